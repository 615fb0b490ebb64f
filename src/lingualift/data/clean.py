"""Cleaning: normalise text, then drop records for a named reason, counted per language.

Each filter looks at one text and returns a reason or None; `clean` applies them to every
side of a record and writes what it rejects, with the reason, to an optional side file.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import TextIO

import regex

from lingualift.data.config import CleanConfig
from lingualift.lang import langid, languages, scripts

# Control characters (Cc: a lone CR, NUL, vertical tab, form feed, NEL...) stand between
# words, so each becomes a space: deleting one glues the words either side. Format
# characters (Cf: bidi overrides U+202A-202E / U+2066-2069, a BOM, soft hyphens) are
# invisible noise and go, except the joiners that Persian and Indic scripts need to spell
# words (ZWNJ U+200C, ZWJ U+200D).
_KEEP = {"\u200c", "\u200d"}
_CONTROL = regex.compile(r"\p{Cc}")
_FORMAT = regex.compile(r"\p{Cf}")
_SPACES = regex.compile(r"\s+")
_URL_EMAIL = regex.compile(r"(?:https?://|www\.)\S+|[\w.+-]+@[\w-]+\.[\w.-]+")


def normalise(text: str, nfc: bool = True, spaces: bool = True) -> str:
    """NFC, control characters as spaces, format characters dropped; runs of white space
    become one space unless `spaces` is off (instruction data keeps its line breaks)."""
    if nfc:
        text = unicodedata.normalize("NFC", text)
    text = _FORMAT.sub(lambda m: m.group() if m.group() in _KEEP else "", text)
    if not spaces:
        text = text.replace("\r\n", "\n")
        return _CONTROL.sub(lambda m: m.group() if m.group() in "\n\t" else " ", text)
    return _SPACES.sub(" ", _CONTROL.sub(" ", text)).strip()


def _length(cfg: CleanConfig) -> Callable[[str, str], str | None]:
    def check(text: str, lang: str) -> str | None:
        if not text:
            return "empty"
        if not cfg.min_chars <= len(text) <= cfg.max_chars:
            return "length_chars"
        # Word counts mean nothing for scripts written without spaces (Thai, Chinese, ...).
        if " " in text and not cfg.min_words <= len(text.split()) <= cfg.max_words:
            return "length_words"
        return None
    return check


def _script(cfg: CleanConfig) -> Callable[[str, str], str | None]:
    def check(text: str, lang: str) -> str | None:
        return "script" if scripts.matches_script(text, languages.get(lang).script) is False else None
    return check


def _langid(cfg: CleanConfig) -> Callable[[str, str], str | None]:
    def check(text: str, lang: str) -> str | None:
        return "langid" if langid.verdict(text, lang, cfg.langid_min_score) else None
    return check


def _boilerplate(cfg: CleanConfig) -> Callable[[str, str], str | None]:
    def check(text: str, lang: str) -> str | None:
        covered = sum(len(m) for m in _URL_EMAIL.findall(text))
        return "url_email" if covered > cfg.max_url_email_ratio * len(text) else None
    return check


def filters(cfg: CleanConfig) -> list[Callable[[str, str], str | None]]:
    """Cheap checks first: most rejects never reach language ID."""
    chosen = [_length(cfg), _boilerplate(cfg)]
    if cfg.script:
        chosen.append(_script(cfg))
    if cfg.langid:
        chosen.append(_langid(cfg))
    return chosen


def record_lang(record: dict) -> str:
    """The counting key: the language, or SRC-TGT for a pair."""
    return record["lang"] if "text" in record else f"{record['src_lang']}-{record['tgt_lang']}"


def reject_reason(record: dict, cfg: CleanConfig, checks) -> str | None:
    """Normalises the record in place and says why it must go, if it must."""
    if "text" in record:
        record["text"] = normalise(record["text"], cfg.nfc)
        return next((r for r in (c(record["text"], record["lang"]) for c in checks) if r), None)
    record["src"], record["tgt"] = normalise(record["src"], cfg.nfc), normalise(record["tgt"], cfg.nfc)
    for side in ("src", "tgt"):
        reason = next((r for r in (c(record[side], record[f"{side}_lang"]) for c in checks) if r), None)
        if reason:
            return f"{side}_{reason}"
    if cfg.drop_identical_pairs and record["src"] == record["tgt"]:
        return "src_equals_tgt"
    shorter, longer = sorted((len(record["src"]), len(record["tgt"])))
    if longer > cfg.max_length_ratio * max(shorter, 1):
        return "length_ratio"
    return None


def clean(records: Iterable[dict], cfg: CleanConfig, removed: defaultdict[str, Counter],
          rejects: TextIO | None = None) -> Iterator[dict]:
    """Yield the records that pass; count the others in removed[lang][reason]."""
    checks = filters(cfg)
    for record in records:
        reason = reject_reason(record, cfg, checks)
        if reason is None:
            yield record
            continue
        removed[record_lang(record)][reason] += 1
        if rejects is not None:
            rejects.write(json.dumps({**record, "reason": reason}, ensure_ascii=False) + "\n")
