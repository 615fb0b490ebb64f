"""`lingualift eval ppl`: per-language bits per byte and per character of one model.

Bits per byte and per character divide the same summed log-likelihood by a count that does
not depend on the tokenizer, so they compare across models and before/after vocabulary
expansion (per-token perplexity does not). Written: results.json (with how it was made),
results.csv, report.md.
"""

from __future__ import annotations

import csv
import io
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Callable

from lingualift.io import parse_slice, write_json, write_text

COLUMNS = ("bits_per_byte", "bits_per_char", "ppl_char", "ppl_token", "tokens", "chars", "bytes")


def measure(model, tokenizer, data: str, codes: list[str], *, lines: str = ":", split: str = "dev",
            batch_size: int = 16, window: int | None = None, stride: int | None = None,
            progress_factory: Callable | None = None) -> dict[str, dict]:
    """Per language: the perplexity numbers of `nll` over the chosen lines of its file."""
    from lingualift.eval.perplexity import nll
    from lingualift.eval.sources import load_side

    chosen = parse_slice(lines)
    out = {}
    for code in codes:
        side = load_side(data, code, split, "tgt")
        texts = [t for t in side.lines[chosen] if t.strip()]
        bar = progress_factory(f"ppl {code}", len(texts)) if progress_factory else nullcontext(None)
        with bar as advance:
            result = nll(model, tokenizer, texts, batch_size, advance, window, stride)
        out[code] = {"lines": len(texts), "source": side.origin,
                     **{k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}}
    return out


def write(out: Path, per_lang: dict[str, dict], meta: dict) -> None:
    from lingualift import __version__

    meta = {**meta, "command": " ".join(["lingualift", *sys.argv[1:]]), "lingualift": __version__}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["language", "lines", *COLUMNS])
    for code, row in per_lang.items():
        writer.writerow([code, row["lines"], *(row[c] for c in COLUMNS)])
    write_text(out / "results.csv", buffer.getvalue())
    ranked = sorted(per_lang.items(), key=lambda kv: -kv[1]["bits_per_char"])
    md = [f"# Perplexity: {meta['model']}", "", f"Data `{meta['data']}` lines `{meta['lines']}`, "
          f"window {meta['window']} stride {meta['stride']}. Worst first.", "",
          "| language | lines | bits/byte | bits/char | ppl/char | ppl/token | tokens |", "|---|---|---|---|---|---|---|"]
    md += [f"| {code} | {r['lines']} | {r['bits_per_byte']:.3f} | {r['bits_per_char']:.3f} | {r['ppl_char']:.2f} | "
           f"{r['ppl_token']:.2f} | {r['tokens']} |" for code, r in ranked]
    write_text(out / "report.md", "\n".join(md + ["", f"Command: `{meta['command']}`", ""]))
    write_json(out / "results.json", {"meta": meta, "languages": per_lang})
