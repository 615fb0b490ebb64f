"""Bilingual dictionaries for LLaMAX-style augmentation, from the formats they ship in.

A dictionary is `{source phrase (casefolded): [translations, most common first]}`. Specs:
`muse:FILE` and `tsv:FILE` (`word<TAB>translation`, MUSE / Wiktionary / FreeDict TSV),
`wechsel:DIR/<language>` or `wechsel:DIR` with the target language resolved through
`languages.csv` (WECHSEL's `english<TAB>target` files named by language), `dictd:FILE.index`
(FreeDict's dictd databases, `.dict` or `.dict.dz` beside the index) and `panlex:FILE.csv`
(a CSV with a header naming the source and target columns).
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import regex

from lingualift.core.io import InputError, iter_lines
from lingualift.lang.languages import get

Dictionary = dict[str, list[str]]


def _add(table: Dictionary, source: str, target: str) -> None:
    source, target = source.strip(), target.strip()
    if source and target:
        entries = table.setdefault(source.casefold(), [])
        if target not in entries:
            entries.append(target)


def _tsv(path: Path) -> Dictionary:
    table: Dictionary = {}
    for number, line, error in iter_lines(path):
        if error:
            raise InputError(error, path, number)
        if not line.strip():
            continue
        parts = line.split("\t") if "\t" in line else line.split(" ", 1)
        if len(parts) < 2:
            raise InputError("expected `word<TAB>translation`", path, number)
        _add(table, parts[0], parts[1])
    return table


def _wechsel(spec: str, tgt_lang: str) -> Path:
    """WECHSEL names files by English language name; languages.csv maps ISO 639-3 to it."""
    path = Path(spec)
    if path.is_file():
        return path
    names = {}
    for _number, line, _error in iter_lines(path / "languages.csv"):
        code, _, name = (line or "").partition(",")
        names.setdefault(code, []).append(name)
    iso3 = get(tgt_lang).iso639_3
    for name in names.get(iso3, []) + [get(tgt_lang).name.casefold()]:
        if (path / f"{name}.txt").is_file():
            return path / f"{name}.txt"
    raise InputError(f"no WECHSEL dictionary for {tgt_lang} (ISO 639-3 {iso3}) in languages.csv", path)


_NUMBERING = regex.compile(r"^\s*(?:\d+\.|[a-z]\))\s*")


def _dictd(index: Path) -> Dictionary:
    """dictd: the index gives base64 offset/length of each entry in the .dict(.dz) body."""
    body_path = next((p for p in (index.with_suffix(".dict"), index.with_suffix(".dict.dz")) if p.is_file()), None)
    if body_path is None:
        raise InputError("no .dict or .dict.dz beside the index", index)
    body = gzip.decompress(body_path.read_bytes()) if body_path.suffix == ".dz" else body_path.read_bytes()

    def b64(value: str) -> int:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        number = 0
        for ch in value:
            number = number * 64 + alphabet.index(ch)
        return number

    table: Dictionary = {}
    for number, line, error in iter_lines(index):
        parts = (line or "").split("\t")
        if error or len(parts) < 3:
            raise InputError(error or "expected `headword<TAB>offset<TAB>length`", index, number)
        head = parts[0]
        if head.startswith("00database"):
            continue
        entry = body[b64(parts[1]):b64(parts[1]) + b64(parts[2])].decode("utf-8", "replace").splitlines()
        # The first line repeats the headword (with pronunciation); then numbered senses.
        for sense in entry[1:]:
            for target in regex.split(r"[,;]", _NUMBERING.sub("", sense)):
                if target.strip() and not target.strip().startswith(("Note:", "Synonym", "see:")):
                    _add(table, head, target)
    return table


def _panlex(path: Path) -> Dictionary:
    table: Dictionary = {}
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames or []
        src = next((f for f in fields if f.lower() in ("source", "src", "txt1", "expr1", "english")), None)
        tgt = next((f for f in fields if f.lower() in ("target", "tgt", "txt2", "expr2", "translation")), None)
        if not (src and tgt):
            raise InputError(f"PanLex CSV needs source and target columns, found {fields}", path, 1)
        for row in reader:
            _add(table, row[src] or "", row[tgt] or "")
    return table


def load(spec: str, tgt_lang: str) -> Dictionary:
    kind, _, rest = spec.partition(":")
    if kind in ("muse", "tsv"):
        return _tsv(Path(rest))
    if kind == "wechsel":
        return _tsv(_wechsel(rest, tgt_lang))
    if kind == "dictd":
        return _dictd(Path(rest))
    if kind == "panlex":
        return _panlex(Path(rest))
    raise InputError(f"unknown dictionary spec {spec!r}; use muse:, tsv:, wechsel:, dictd: or panlex:")


def invert(table: Dictionary) -> Dictionary:
    inverted: Dictionary = {}
    for source, targets in table.items():
        for target in targets:
            _add(inverted, target, source)
    return inverted


def pivot(x_to_en: Dictionary, en_to_y: Dictionary) -> Dictionary:
    """X->Y through English, for language pairs that only have en-X and en-Y dictionaries."""
    table: Dictionary = {}
    for source, english in x_to_en.items():
        for word in english:
            for target in en_to_y.get(word.casefold(), []):
                _add(table, source, target)
    return table
