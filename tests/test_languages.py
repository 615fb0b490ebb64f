import pytest

from lingualift.core.io import InputError
from lingualift.lang import languages


def test_registry_matches_flores200_files(flores):
    codes = {lang.code for lang in languages.all_languages()}
    files = {p.name[:-4] for p in flores.glob("*.dev")}
    assert codes == files
    assert len(codes) == 204


def test_registry_attributes():
    langs = languages.all_languages()
    assert sum(lang.llamax for lang in langs) == 102  # LLaMAX's supported_languages.csv
    assert {lang.tier for lang in langs} == {"high", "medium", "low"}
    assert sum(lang.tier == "high" for lang in langs) == 28
    swh = languages.get("swh_Latn")
    assert (swh.name, swh.iso639_1, swh.iso639_3, swh.script, swh.flores101) == ("Swahili", "sw", "swh", "Latn", "swh")
    assert languages.get("tha_Thai").script == "Thai"


@pytest.mark.parametrize("query", ["sw", "swh", "Swahili", "swahili", "swh_Latn", "SWH-latn", "Kiswahili"])
def test_swahili_spellings(query):
    assert languages.resolve_code(query) == "swh_Latn"


@pytest.mark.parametrize("query,code", [
    ("zho_simpl", "zho_Hans"), ("zho_trad", "zho_Hant"), ("fa", "pes_Arab"), ("Persian", "pes_Arab"),
    ("de", "deu_Latn"), ("deu", "deu_Latn"), ("German", "deu_Latn"), ("ku", "ckb_Arab"),
    ("no", "nob_Latn"), ("norwegian BOKMÅL", "nob_Latn"), ("ace", "ace_Latn"), ("Filipino", "tgl_Latn"),
    ("msa", "zsm_Latn"), ("lav", "lvs_Latn"), ("en", "eng_Latn"),
])
def test_resolution(query, code):
    assert languages.resolve_code(query) == code


@pytest.mark.parametrize("query,default,alternative", [
    ("zh", "zho_Hans", "zho_Hant"), ("ar", "arb_Arab", "arz_Arab"), ("ms", "zsm_Latn", "min_Latn"),
    ("Chinese", "zho_Hans", "zho_Hant"),
])
def test_ambiguous_inputs_have_default_and_alternatives(query, default, alternative):
    found = [lang.code for lang in languages.candidates(query)]
    assert found[0] == default
    assert alternative in found[1:]


def test_unknown_language_lists_close_matches():
    with pytest.raises(InputError) as err:
        languages.resolve("Swahilli")
    assert "swh_Latn" in str(err.value)
    assert "unknown language" in str(err.value)
