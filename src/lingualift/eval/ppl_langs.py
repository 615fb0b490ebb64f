"""`lingualift eval ppl`: per-language bits per byte and per character of one model.

Bits per byte and per character divide the same summed log-likelihood by a count that does
not depend on the tokenizer, so they compare across models and before/after vocabulary
expansion (per-token perplexity does not). Written: results.json (with how it was made),
results.csv, report.md.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from lingualift.core.io import write_json, write_text
from lingualift.core.progress import ProgressFactory, bar
from lingualift.core.provenance import provenance
from lingualift.eval.config import PplSettings
from lingualift.lang import languages

COLUMNS = ("bits_per_byte", "bits_per_char", "ppl_char", "ppl_token", "tokens", "chars", "bytes")


def measure(model, tokenizer, data: str, codes: list[str], *, lines: str = ":", split: str = "dev",
            batch_size: int = 16, window: int | None = None, stride: int | None = None,
            progress_factory: ProgressFactory | None = None) -> dict[str, dict]:
    """Per language: the perplexity numbers of `nll` over the chosen lines of its file."""
    from lingualift.corpora.sources import heldout, load_side
    from lingualift.inference.perplexity import nll

    out = {}
    for code in codes:
        texts = heldout(data, code, lines, split)
        with bar(progress_factory, f"ppl {code}", len(texts)) as advance:
            result = nll(model, tokenizer, texts, batch_size, advance, window, stride)
        out[code] = {"lines": len(texts), "source": load_side(data, code, split, "src").origin,
                     **{k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}}
    return out


def run(settings: PplSettings, *, model: str, data: str, out: str, progress: ProgressFactory | None = None) -> dict:
    """`eval ppl`: measure and write the result files; returns the per-language numbers."""
    from lingualift.inference import models

    codes = languages.resolve_many(settings.langs, default_all=True)
    loaded, tokenizer = models.load(model, settings.dtype)
    per_lang = measure(loaded, tokenizer, data, codes, lines=settings.lines, split=settings.split,
                       batch_size=settings.batch_size, window=settings.window, stride=settings.stride,
                       progress_factory=progress)
    context = getattr(loaded.config, "max_position_embeddings", None)
    write(Path(out), per_lang, {"model": model, "data": data, "split": settings.split, "lines": settings.lines,
                                "window": settings.window or context, "stride": settings.stride or "half a window",
                                "settings": settings.model_dump()})
    return per_lang


def write(out: Path, per_lang: dict[str, dict], meta: dict) -> None:
    meta = {**meta, **provenance()}
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
