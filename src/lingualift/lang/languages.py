"""The language registry: the 204 FLORES-200 languages, and every way users name them.

Canonical codes are FLORES-200's `xxx_Scrp`. Users type `sw`, `swh`, `Swahili` or a
FLORES-101 code; all of them resolve here so that no other module parses language names.

Resource tiers are relative to the base models of the LLaMAX and SambaLingo recipes:
`high` = the 27 languages (plus English) that make up at least 0.005% of Llama-2's
pretraining data (Touvron et al. 2023, Table 10); `medium` = the other FLORES-101 languages
(LLaMAX's 102); `low` = languages only in FLORES-200.
"""

from __future__ import annotations

import difflib
import functools
import unicodedata
from dataclasses import dataclass, field
from importlib import resources

from lingualift.core.io import InputError

TIERS = ("high", "medium", "low")


@dataclass(frozen=True)
class Language:
    code: str
    name: str
    iso639_1: str
    iso639_3: str
    script: str
    macro: str
    flores101: str
    tier: str
    aliases: tuple[str, ...] = field(default=())

    @property
    def llamax(self) -> bool:
        """LLaMAX's 102 languages are exactly FLORES-101's (its supported_languages.csv)."""
        return bool(self.flores101)

    def as_dict(self) -> dict:
        return {
            "code": self.code, "name": self.name, "iso639_1": self.iso639_1 or None,
            "iso639_3": self.iso639_3, "script": self.script, "flores101": self.flores101 or None,
            "llamax": self.llamax, "tier": self.tier, "aliases": list(self.aliases),
        }


@functools.cache
def all_languages() -> tuple[Language, ...]:
    text = resources.files("lingualift.resources").joinpath("languages.tsv").read_text("utf-8")
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    header, body = rows[0], rows[1:]
    langs = []
    for row in body:
        rec = dict(zip(header, row))
        iso3, script = rec["code"].split("_")
        aliases = tuple(a for a in rec["aliases"].split(";") if a)
        langs.append(Language(rec["code"], rec["name"], rec["iso639_1"], iso3, script,
                              rec["macro"], rec["flores101"], rec["tier"], aliases))
    return tuple(langs)


def _fold(text: str) -> str:
    """Case- and accent-insensitive key, so `bokmal`, `Bokmål` and `BOKMAL` meet."""
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold().replace("-", "_"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@functools.cache
def _index() -> list[dict[str, list[Language]]]:
    """Lookup tables from most to least specific; the first table that knows a key wins."""
    by_code, by_f101, by_iso3, by_iso1, by_name = {}, {}, {}, {}, {}
    for lang in all_languages():
        by_code.setdefault(_fold(lang.code), []).append(lang)
        if lang.flores101:
            by_f101.setdefault(_fold(lang.flores101), []).append(lang)
        by_iso3.setdefault(lang.iso639_3, []).append(lang)
        for iso1 in {lang.iso639_1, lang.macro} - {""}:
            by_iso1.setdefault(iso1, []).append(lang)
        base = lang.name.split(" (")[0]
        for name in {lang.name, base, *lang.aliases}:
            by_name.setdefault(_fold(name), []).append(lang)
    return [by_code, by_f101, by_iso3, by_iso1, by_name]


def _preference(query: str, lang: Language) -> tuple:
    """Default among ambiguous matches: a direct ISO 639-1 holder over a macrolanguage
    member (`ar` -> arb, not acm), FLORES-101 members (the commonly evaluated variant),
    then Latin script (`ace` -> ace_Latn), then the code's order (`zh` -> zho_Hans)."""
    return (lang.iso639_1 != query, not lang.flores101, lang.script != "Latn", lang.code)


def candidates(query: str) -> list[Language]:
    """All entries the query may mean, the default first; empty when nothing matches."""
    key = _fold(query)
    for table in _index():
        if key in table:
            unique = {lang.code: lang for lang in table[key]}.values()
            return sorted(unique, key=lambda lang: _preference(key, lang))
    return []


def close_matches(query: str, n: int = 5) -> list[str]:
    keys = [k for table in _index() for k in table]
    found = difflib.get_close_matches(_fold(query), keys, n=n * 3, cutoff=0.6)
    codes: list[str] = []
    for key in found:
        for lang in candidates(key):
            if lang.code not in codes:
                codes.append(lang.code)
    return codes[:n]


def resolve(query: str) -> Language:
    """The one registry entry a user's language name or code means, or an InputError.

    Ambiguous input (`zh`, `ar`, `ms`) gets the documented default; callers that want to
    show the alternatives use `candidates`.
    """
    found = candidates(query)
    if not found:
        hint = close_matches(query)
        suffix = f"; close matches: {', '.join(hint)}" if hint else "; see `lingualift langs`"
        raise InputError(f"unknown language {query!r}{suffix}")
    return found[0]


def resolve_code(query: str) -> str:
    return resolve(query).code


def get(code: str) -> Language:
    """An entry by its canonical code (for codes already resolved)."""
    for lang in all_languages():
        if lang.code == code:
            return lang
    raise InputError(f"unknown FLORES-200 code {code!r}")


def english_name(code: str) -> str:
    """The name prompts use: LLaMAX's template writes plain English language names."""
    return get(code).name


GROUPS = {"all": "every FLORES-200 language", "llamax": "LLaMAX's 102 (FLORES-101), English aside"}


def resolve_many(queries: list[str], default_all: bool = False) -> list[str]:
    """Codes for a list of codes or names, in order without repeats; `all` and `llamax`
    stand for their groups; an empty list is every language when `default_all`."""
    if not queries and default_all:
        queries = ["all"]
    out: list[str] = []
    for query in queries:
        if query == "all":
            group = [lang.code for lang in all_languages()]
        elif query == "llamax":
            group = [lang.code for lang in all_languages() if lang.llamax and lang.code != "eng_Latn"]
        else:
            group = [resolve_code(query)]
        out += [code for code in group if code not in out]
    return out
