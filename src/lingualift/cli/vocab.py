"""`lingualift vocab analyze / expand`: tokenizers across languages."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from lingualift.cli.common import console
from lingualift.cli.options import stage_command
from lingualift.core.io import check_output
from lingualift.vocab.config import AnalyzeSettings, ExpandSettings

vocab_app = typer.Typer(help="Tokenizers across languages: fertility and parity (analyze), vocabulary expansion "
                             "(expand).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(vocab_app, name="vocab")


@stage_command(vocab_app, "analyze", AnalyzeSettings, path="vocab analyze")
def vocab_analyze(
    settings: AnalyzeSettings,
    tokenizer: str = typer.Option(..., help="A model spec, or a SentencePiece .model file."),
    data: str = typer.Option(..., help="flores:DIR (aligned sentences, so parity is meaningful)."),
    vs: Optional[str] = typer.Option(None, help="A second tokenizer, shown side by side."),
    out: Optional[str] = typer.Option(None, help="Folder for fertility.csv / .json / .html."),
) -> None:
    """Tokens per word / character / sentence, parity with English, byte-fallback and unknown rates.

    Example: lingualift vocab analyze --tokenizer ../shared/data/tokenizers/llama2-tokenizer.model
    --data flores:../shared/data/flores200 --langs sw,th,de --vs smollm2-135m --out runs/fertility
    """
    from lingualift.lang.languages import resolve_many
    from lingualift.vocab.fertility import analyze, write_report

    if out:
        check_output(out, "folder")
    codes = resolve_many(settings.langs, default_all=True)
    result = analyze(tokenizer, data, codes, settings.split, settings.limit)
    other = analyze(vs, data, codes, settings.split, settings.limit) if vs else None
    table = Table("code", "name", "tok/word", "tok/char", "parity", "byte fallback", *(["vs parity"] if other else []))
    for code, row in sorted(result["languages"].items(), key=lambda kv: -kv[1]["parity"]):
        extra = [f"{other['languages'][code]['parity']:.2f}"] if other else []
        table.add_row(code, row["name"], f"{row['tokens_per_word']:.2f}", f"{row['tokens_per_char']:.2f}",
                      f"{row['parity']:.2f}", f"{100 * row['byte_fallback_rate']:.1f}%", *extra)
    console.print(table)
    if out:
        write_report(out, result, other)
        console.print(f"written: {out}/fertility.csv  {out}/fertility.json  {out}/fertility.html")


@stage_command(vocab_app, "expand", ExpandSettings, path="vocab expand")
def vocab_expand(
    settings: ExpandSettings,
    model: str = typer.Option(..., help="A model spec (HF directory, preset, hub id) or a bare SentencePiece "
                                        ".model file (then only the tokenizer is expanded)."),
    corpus: list[str] = typer.Option(..., help="Target-language text: a text file (one sentence per line, "
                                               ".gz/.zst/.xz too) or DESIGN.md JSONL; repeatable."),
    langs: str = typer.Option(..., "--langs", help="Target languages, e.g. swh_Latn or sw,th."),
    out: str = typer.Option(..., help="Output folder: HF model/tokenizer + manifest.json + effect.md."),
    overwrite: bool = typer.Option(False, help="Replace a non-empty output folder."),
) -> None:
    """Add up to N target-language tokens as real BPE vocabulary, resize and initialise embeddings.

    Works for SentencePiece-BPE (Llama-2: tokenizer.model) and byte-level BPE (GPT-2, Llama-3,
    SmolLM2) tokenizers. New merges rank after every base merge and tokens that would join two
    pieces of the --protect text are left out, so that text segments exactly as before.

    Example: lingualift vocab expand --model smollm2-135m --corpus sw.txt --langs swh_Latn --add 8000
    --protect flores:../shared/data/flores200 --heldout flores:../shared/data/flores200
    --heldout-lines 500: --out runs/smollm2-sw
    """
    from lingualift.lang.languages import resolve_many
    from lingualift.vocab.expand import expand

    check_output(out, "folder")
    codes = resolve_many([c.strip() for c in langs.split(",") if c.strip()])
    manifest = expand(settings, model=model, corpus=corpus, langs=codes, out=out, overwrite=overwrite,
                      log=console.print)
    console.print(Path(out, "effect.md").read_text(encoding="utf-8"))
    console.print(f"written: {out} ({manifest['added']} new tokens, ids {manifest['new_token_ids']})")
