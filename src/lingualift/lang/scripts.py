"""Unicode script of a text, in the ISO 15924 codes FLORES-200 uses.

Language ID models cover a fraction of FLORES-200; the script is known for every language,
so it is the fallback for off-target detection and the script filter of the data pipeline.
"""

from __future__ import annotations

import functools
from collections import Counter

import regex

# ISO 15924 code -> Unicode script property name, for every script in FLORES-200.
SCRIPTS = {
    "Latn": "Latin", "Cyrl": "Cyrillic", "Arab": "Arabic", "Deva": "Devanagari",
    "Beng": "Bengali", "Hani": "Han", "Hira": "Hiragana", "Kana": "Katakana",
    "Hang": "Hangul", "Thai": "Thai", "Ethi": "Ethiopic", "Grek": "Greek",
    "Armn": "Armenian", "Geor": "Georgian", "Hebr": "Hebrew", "Gujr": "Gujarati",
    "Guru": "Gurmukhi", "Knda": "Kannada", "Mlym": "Malayalam", "Taml": "Tamil",
    "Telu": "Telugu", "Khmr": "Khmer", "Laoo": "Lao", "Mymr": "Myanmar", "Orya": "Oriya",
    "Sinh": "Sinhala", "Tibt": "Tibetan", "Tfng": "Tifinagh", "Olck": "Ol_Chiki",
}
_PATTERNS = {code: regex.compile(rf"\p{{Script={name}}}") for code, name in SCRIPTS.items()}

# Scripts a registry code accepts: Chinese is written in Han, Japanese mixes Han and kana,
# Korean text may carry Hanja.
ACCEPTS = {
    "Hans": {"Hani"}, "Hant": {"Hani"},
    "Jpan": {"Hani", "Hira", "Kana"}, "Hang": {"Hang", "Hani"},
}


@functools.lru_cache(maxsize=65536)
def char_script(ch: str) -> str | None:
    """The ISO 15924 code of one character, None for digits, punctuation and spaces."""
    for code, pattern in _PATTERNS.items():
        if pattern.match(ch):
            return code
    return None


def script_counts(text: str) -> Counter:
    return Counter(s for s in map(char_script, text) if s is not None)


def dominant_script(text: str) -> str | None:
    """The script of most letters; Japanese is recognised by any kana among Han."""
    counts = script_counts(text)
    if not counts:
        return None
    if counts.get("Hira") or counts.get("Kana"):
        counts["Jpan"] = counts.pop("Hani", 0) + counts.pop("Hira", 0) + counts.pop("Kana", 0)
    return counts.most_common(1)[0][0]


def matches_script(text: str, expected: str) -> bool | None:
    """Whether the text's dominant script fits a registry script code; None if no letters."""
    found = dominant_script(text)
    if found is None:
        return None
    if found == "Jpan":
        return expected == "Jpan"
    return found == expected or found in ACCEPTS.get(expected, ())
