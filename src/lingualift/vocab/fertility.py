"""How well a tokenizer serves each language: fertility, parity with English, byte fallback.

Parity (Petrov et al. 2023) compares the tokens needed for the same FLORES sentences in a
language and in English, so it is comparable across languages whatever their writing
system; tokens per word is only meaningful where words are separated by spaces, so tokens
per character and per sentence are reported for every language.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import regex

from lingualift.core.io import InputError, write_json, write_text
from lingualift.core.pages import render
from lingualift.corpora.sources import ENGLISH, load_side
from lingualift.lang import languages

_BYTE_PIECE = regex.compile(r"^<0x[0-9A-Fa-f]{2}>$")


@dataclass
class Segmenter:
    """A tokenizer reduced to what fertility needs: text -> pieces, and its unknown piece."""

    name: str
    pieces: Callable[[str], list[str]]
    unk: str | None


def load_segmenter(spec: str) -> Segmenter:
    """A SentencePiece `.model` file is read by sentencepiece itself (transformers 5 builds a
    tokenizer from a bare Llama-2 model that drops the first word's `▁`); anything else is a
    model spec whose tokenizer transformers loads."""
    if spec.endswith(".model"):
        import sentencepiece

        if not Path(spec).is_file():
            raise InputError("SentencePiece model not found", spec)
        sp = sentencepiece.SentencePieceProcessor(model_file=spec)
        return Segmenter(Path(spec).name, lambda text: sp.encode(text, out_type=str), sp.id_to_piece(sp.unk_id()))
    from transformers import AutoTokenizer

    from lingualift.inference.models import resolve_spec

    directory, gguf = resolve_spec(spec)
    if not gguf and (directory / "tokenizer.model").is_file() and not (directory / "tokenizer.json").is_file():
        return load_segmenter(str(directory / "tokenizer.model"))
    tok = AutoTokenizer.from_pretrained(directory, gguf_file=gguf) if gguf else AutoTokenizer.from_pretrained(directory)
    return Segmenter(spec, lambda text: tok.tokenize(text), tok.unk_token)


def analyze_language(seg: Segmenter, lines: list[str]) -> dict:
    tokens = bytes_ = unknown = words = chars = 0
    for line in lines:
        pieces = seg.pieces(line)
        tokens += len(pieces)
        bytes_ += sum(bool(_BYTE_PIECE.match(p)) for p in pieces)
        unknown += sum(p == seg.unk for p in pieces) if seg.unk else 0
        words += len(line.split())
        chars += len(line)
    return {"sentences": len(lines), "tokens": tokens,
            "tokens_per_word": round(tokens / max(words, 1), 4),
            "tokens_per_char": round(tokens / max(chars, 1), 4),
            "tokens_per_sentence": round(tokens / max(len(lines), 1), 3),
            "byte_fallback_rate": round(bytes_ / max(tokens, 1), 4),
            "unknown_rate": round(unknown / max(tokens, 1), 4)}


def analyze(spec: str, data: str, langs: list[str], split: str = "dev", limit: int | None = None) -> dict:
    """Per-language fertility for one tokenizer; parity against English on aligned lines."""
    seg = load_segmenter(spec)
    codes = list(dict.fromkeys([ENGLISH, *langs]))
    loaded = {code: load_side(data, code, split, "src") for code in codes}
    english = loaded[ENGLISH]
    for side in loaded.values():  # parity over different sentences would mean nothing
        if len(side.lines) != len(english.lines):
            shorter = min((side, english), key=lambda s: len(s.lines))
            raise InputError(f"{side.origin} has {len(side.lines)} lines but {english.origin} has "
                             f"{len(english.lines)} (expected aligned files)", shorter.origin, len(shorter.lines) + 1)
    sides = {code: list(side.lines[:limit]) for code, side in loaded.items()}
    rows = {code: analyze_language(seg, sides[code]) for code in codes}
    if not rows[ENGLISH]["tokens"]:
        raise InputError("the English reference has no text (blank lines only); parity needs aligned English "
                         "sentences", english.origin, 1)
    for code, row in rows.items():
        row["parity"] = round(row["tokens"] / rows[ENGLISH]["tokens"], 4)
        row["name"] = languages.get(code).name
        row["script"] = languages.get(code).script
    return {"tokenizer": seg.name, "data": data, "split": split, "limit": limit, "languages": rows}


def _bar_html(rows: dict, other: dict | None, names: tuple[str, str]) -> str:
    ranked = sorted(rows, key=lambda c: -rows[c]["parity"])
    top = max([rows[c]["parity"] for c in rows] + [other[c]["parity"] for c in other or {}] + [1.0])
    bars = [{"label": f"{rows[code]['name']} ({code})", "parity": rows[code]["parity"],
             "other": other[code]["parity"] if other and code in other else None,
             "tokens_per_char": rows[code]["tokens_per_char"], "byte_fallback": 100 * rows[code]["byte_fallback_rate"]}
            for code in ranked]
    return render("fertility.html.j2", rows=bars, top=top, names=names, compare=bool(other))


def write_report(out: str | Path, result: dict, other: dict | None = None) -> None:
    out = Path(out)
    fields = ["tokens_per_word", "tokens_per_char", "tokens_per_sentence", "parity", "byte_fallback_rate", "unknown_rate"]
    header = ["code", "name", *fields] + ([f"vs_{f}" for f in fields] if other else [])
    lines = [",".join(header)]
    for code, row in result["languages"].items():
        cells = [code, f"\"{row['name']}\"", *[str(row[f]) for f in fields]]
        if other:
            cells += [str(other["languages"].get(code, {}).get(f, "")) for f in fields]
        lines.append(",".join(cells))
    write_text(out / "fertility.csv", "\n".join(lines) + "\n")
    names = (result["tokenizer"], other["tokenizer"] if other else "")
    write_text(out / "fertility.html", _bar_html(result["languages"], other["languages"] if other else None, names))
    write_json(out / "fertility.json", {"tokenizer": result, "vs": other})
