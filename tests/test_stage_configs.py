"""One definition per stage: every setting is a CLI flag (or a --set key) of the same name,
recipes embed the same models, and the same value is accepted in the same spelling both ways."""

import json

import pytest
import typer.main

from conftest import run_cli
from lingualift.cli.main import app
from lingualift.cli.options import STAGE_COMMANDS, build_settings, flag, flag_fields
from lingualift.core.config import StrictModel
from lingualift.data.config import DataConfig
from lingualift.eval.config import TranslateSettings
from lingualift.run import recipe
from lingualift.train.config import TrainSettings
from lingualift.train.merge_config import MergeSettings
from lingualift.vocab.config import ExpandSettings

COMMAND = typer.main.get_command(app)
EXPECTED = {"vocab analyze", "vocab expand", "data build", "data sft", "data dpo", "data synth", "train cpt", "train sft",
            "train dpo", "train grpo", "train merge", "eval translate", "eval tasks", "eval ppl", "probe", "translate",
            "serve"}


def _click(path: str):
    node = COMMAND
    for word in path.split():
        node = node.commands[word]
    return node


def test_every_stage_command_is_built_from_its_settings():
    assert set(STAGE_COMMANDS) == EXPECTED


@pytest.mark.parametrize("path", sorted(EXPECTED))
def test_every_setting_is_a_flag_or_a_set_key(path):
    model = STAGE_COMMANDS[path]
    options = {opt for param in _click(path).params for opt in param.opts}
    assert {"--config", "--set"} <= options
    flags = flag_fields(model)
    for name, field in model.model_fields.items():
        if name in flags:
            assert flag(name) in options, f"{path}: {name} has no {flag(name)}"
        else:  # nested settings (lora, sources, ...) are reached by --set a.b=v or --config
            assert isinstance(field.annotation, type) and issubclass(field.annotation, StrictModel) \
                or "list" in str(field.annotation) or "dict" in str(field.annotation) or "Optional" in str(
                field.annotation), f"{path}: {name} is neither a flag nor a nested setting"
    # the inputs and outputs of a command are flags of its own, never settings
    for io in ("model", "out"):
        assert io not in model.model_fields


@pytest.mark.parametrize("stage, settings", [
    (recipe.VocabStage, ExpandSettings), (recipe.CptStage, TrainSettings), (recipe.SftStage, TrainSettings),
    (recipe.DpoStage, TrainSettings), (recipe.MergeStage, MergeSettings), (recipe.EvalStage, TranslateSettings),
    (DataConfig, DataConfig)])
def test_recipe_stages_embed_the_command_settings_unchanged(stage, settings):
    assert issubclass(stage, settings)
    for name, field in settings.model_fields.items():
        assert stage.model_fields[name].annotation == field.annotation
        assert stage.model_fields[name].get_default(call_default_factory=True) == \
            field.get_default(call_default_factory=True)


@pytest.mark.parametrize("path", sorted(EXPECTED))
def test_a_value_means_the_same_from_the_cli_and_from_yaml(path):
    """Every flag field's default, written as the CLI writes it (lists comma-joined), gives the
    settings the YAML form gives."""
    model = STAGE_COMMANDS[path]
    required = {"add": 10, "src_lang": "en", "tgt_lang": "sw", "langs": ["sw", "th"], "lang": "swh_Latn",
                "sources": [{"type": "text", "path": "x.txt", "lang": "sw"}]}
    yaml_form = {k: v for k, v in required.items() if k in model.model_fields}
    from_yaml = model.model_validate(yaml_form)
    cli_form = {}
    for name in flag_fields(model):
        value = getattr(from_yaml, name)
        cli_form[name] = ",".join(map(str, value)) if isinstance(value, list) else value
    nested = {k: v for k, v in yaml_form.items() if k not in flag_fields(model)}
    sets = [f"{k}={json.dumps(v)}" for k, v in nested.items()]
    assert build_settings(model, cli_form, None, sets) == from_yaml


def test_cli_takes_directions_both_ways(flores, tmp_path):
    out = tmp_path / "ev"
    proc = run_cli("eval", "translate", "--model", "tiny", "--data", f"flores:{flores}", "--directions", "en-x,x-en",
                   "--langs", "sw", "--limit", "2", "--max-new-tokens", "4", "--metrics", "chrf++", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    results = json.loads((out / "results.json").read_text())
    assert [d["direction"] for d in results["directions"]] == ["eng_Latn-swh_Latn", "swh_Latn-eng_Latn"]
    assert results["meta"]["settings"]["directions"] == "en-x,x-en"


def test_a_setting_given_wrong_is_one_line_naming_the_flag(tmp_path):
    proc = run_cli("eval", "translate", "--model", "tiny", "--data", "flores:x", "--out", str(tmp_path / "o"),
                   "--shot-selection", "closest")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "shot_selection" in proc.stderr and "random" in proc.stderr
    proc = run_cli("translate", "--model", "tiny", "--tgt-lang", "sw", "-")
    assert proc.returncode == 2 and proc.stderr.strip() == \
        "error: --src-lang is required (source language (code or name: en, eng_Latn, English))"
    proc = run_cli("eval", "ppl", "--model", "tiny", "--data", "flores:x", "--out", "o", "--set", "nope=1")
    assert proc.returncode == 2 and proc.stderr.strip() == "error: --set nope: unknown setting"
