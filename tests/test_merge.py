"""`lingualift train merge`: mergekit's numbers per method, an expanded vocabulary's new rows,
the weight chosen on dev lines, bad input, and the recipe's merge stage."""

import json

import pytest
import torch
import yaml
from safetensors.torch import load_file, save_file

from conftest import run_cli
from lingualift.core.io import InputError
from lingualift.train import merge_models
from lingualift.train.merge import run
from lingualift.train.merge_config import MergeSettings

DEV = "900:904"  # four dev lines: enough to rank candidates, fast on a CPU


def _save(model, tokenizer, path):
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def _weights(path):
    return load_file(path / "model.safetensors")


def _llama(seed: int):
    """The `tiny` preset's tokenizer and layout at a quarter of its width and half its depth
    (~0.1M parameters): merges and dev scores in a fraction of a second each."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from lingualift.inference.models import build_tiny_tokenizer

    tokenizer = build_tiny_tokenizer()
    config = LlamaConfig(vocab_size=320, hidden_size=64, intermediate_size=172, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    return LlamaForCausalLM(config), tokenizer


@pytest.fixture(scope="module")
def trio(tmp_path_factory):
    """Three small Llamas of one architecture and tokenizer: base, instruct and adapted."""
    root = tmp_path_factory.mktemp("trio")
    return {name: _save(*_llama(seed), root / name) for seed, name in enumerate(("base", "instruct", "adapted"))}


@pytest.fixture(scope="module")
def expanded(trio, shared, tmp_path_factory):
    """The base after `vocab expand` (100 Swahili tokens, 259 -> 359, 384 rows), then every
    weight moved a little, as training would: an adapted model with rows its base lacks."""
    from lingualift.vocab.config import ExpandSettings
    from lingualift.vocab.expand import expand

    out = tmp_path_factory.mktemp("expanded") / "model"
    expand(ExpandSettings(add=100, compare=[]), model=str(trio["base"]),
           corpus=[str(shared / "tatoeba" / "eng-swa" / "tatoeba-test-v2021-08-07.swa")], langs=["swh_Latn"], out=out)
    torch.manual_seed(3)
    moved = {k: v + 0.01 * torch.randn_like(v) for k, v in _weights(out).items()}
    save_file(moved, out / "model.safetensors", metadata={"format": "pt"})
    return out


def _merge(trio, method, weight, tmp_path, **kwargs):
    instruct = trio["instruct"] if method == "task_arithmetic" else None
    models = merge_models.check(trio["base"], trio["adapted"], instruct)
    config = merge_models.configuration(method, weight, models, kwargs.get("density", 1.0), "fp32")
    merge_models.merge(config, models, tmp_path / "out", "fp32")
    return _weights(tmp_path / "out")


def test_task_arithmetic_adds_the_chat_vector_on_every_tensor(trio, tmp_path):
    b, i, a = (_weights(trio[n]) for n in ("base", "instruct", "adapted"))
    out = _merge(trio, "task_arithmetic", 0.7, tmp_path)
    assert sorted(out) == sorted(a)
    for name, tensor in out.items():
        torch.testing.assert_close(tensor, a[name] + 0.7 * (i[name] - b[name]), atol=1e-6, rtol=0)
    assert not torch.allclose(out["model.layers.0.mlp.up_proj.weight"], a["model.layers.0.mlp.up_proj.weight"])


def test_linear_is_the_weighted_mean(trio, tmp_path):
    b, a = _weights(trio["base"]), _weights(trio["adapted"])
    out = _merge(trio, "linear", 0.3, tmp_path)
    for name, tensor in out.items():
        torch.testing.assert_close(tensor, 0.7 * b[name] + 0.3 * a[name], atol=1e-6, rtol=0)


def test_ties_keeps_the_largest_share_of_the_difference(trio, tmp_path):
    b, a = _weights(trio["base"]), _weights(trio["adapted"])
    full = _merge(trio, "ties", 0.6, tmp_path / "full", density=1.0)
    for name, tensor in full.items():  # density 1, one model: task arithmetic, base + w (adapted - base)
        torch.testing.assert_close(tensor, b[name] + 0.6 * (a[name] - b[name]), atol=1e-6, rtol=0)
    half = _merge(trio, "ties", 0.6, tmp_path / "half", density=0.5)
    name = "model.layers.1.self_attn.q_proj.weight"
    delta, merged = a[name] - b[name], half[name] - b[name]
    kept = merged != 0
    assert abs(kept.float().mean().item() - 0.5) < 0.01
    torch.testing.assert_close(merged[kept], 0.6 * delta[kept], atol=1e-6, rtol=0)
    assert delta[kept].abs().min() >= delta[~kept].abs().max()  # by magnitude


def test_new_rows_come_from_the_adapted_model(trio, expanded, flores, tmp_path):
    from transformers import AutoConfig, AutoTokenizer

    settings = MergeSettings(method="task_arithmetic", weights=[0.5], base=str(trio["base"]),
                             instruct=str(trio["instruct"]), metric="ppl", dev_lines=DEV, langs=["sw"])
    info = run(settings, model=str(expanded), data=f"flores:{flores}", out=tmp_path / "m")
    model = tmp_path / "m" / "model"
    b, i, a, out = _weights(trio["base"]), _weights(trio["instruct"]), _weights(expanded), _weights(model)
    embed = "model.embed_tokens.weight"
    assert b[embed].shape[0] == 320 and a[embed].shape[0] == out[embed].shape[0] == 384
    torch.testing.assert_close(out[embed][:259], a[embed][:259] + 0.5 * (i[embed][:259] - b[embed][:259]),
                               atol=1e-6, rtol=0)
    assert torch.equal(out[embed][259:], a[embed][259:])  # new tokens and padding: the adapted rows exactly
    for name in out.keys() - {embed}:
        torch.testing.assert_close(out[name], a[name] + 0.5 * (i[name] - b[name]), atol=1e-6, rtol=0)
    assert AutoTokenizer.from_pretrained(model).get_vocab() == AutoTokenizer.from_pretrained(expanded).get_vocab()
    assert AutoConfig.from_pretrained(model).vocab_size == 384
    assert json.loads((model / "generation_config.json").read_text()) == \
        json.loads((expanded / "generation_config.json").read_text())  # padding rows stay suppressed
    assert info["vocab"] == {"shared_rows": 259, "new_rows_from": "adapted"}
    card = (model / "README.md").read_text()
    assert "- sw" in card and "task_arithmetic" in card
    assert "tokenizer_source" in (model / "mergekit_config.yml").read_text()


def test_the_weight_kept_is_the_best_on_dev(trio, flores, tmp_path):
    """An 'adapted' model with its (tied) embeddings scaled x8 makes confident random
    predictions: per-character perplexity rises with its weight, so w=0 must win."""
    from lingualift.corpora.sources import heldout
    from lingualift.inference import models
    from lingualift.inference.perplexity import nll

    scaled = tmp_path / "scaled"
    scaled.mkdir()
    for item in trio["base"].iterdir():
        (scaled / item.name).write_bytes(item.read_bytes())
    weights = _weights(trio["base"])
    weights["model.embed_tokens.weight"] *= 8
    save_file(weights, scaled / "model.safetensors", metadata={"format": "pt"})
    settings = MergeSettings(method="linear", weights="1.0,0.0,0.5", base=str(trio["base"]), metric="ppl",
                             dev_lines=DEV, langs=["sw"])
    info = run(settings, model=str(scaled), data=f"flores:{flores}", out=tmp_path / "m")
    by_weight = {r["weight"]: r["score"] for r in info["scores"]}
    assert list(by_weight) == [1.0, 0.0, 0.5] and by_weight[1.0] > by_weight[0.5] > by_weight[0.0]
    assert info["chosen"] == {"weight": 0.0, "score": by_weight[0.0]} and not info["higher_is_better"]
    model, tokenizer = models.load(str(tmp_path / "m" / "model"))
    kept = nll(model, tokenizer, heldout(f"flores:{flores}", "swh_Latn", DEV))["ppl_char"]
    assert kept == pytest.approx(by_weight[0.0], rel=1e-6)
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["merge.json", "model"]  # candidates cleared
    assert json.loads((tmp_path / "m" / "merge.json").read_text())["versions"]["torch"]


def test_bad_input_is_one_line_exit_2_and_nothing_written(trio, flores, tmp_path):
    out = tmp_path / "out"
    common = ["--base", str(trio["base"]), "--data", f"flores:{flores}", "--langs", "sw", "--out", str(out)]
    proc = run_cli("train", "merge", "--model", str(trio["adapted"]), "--method", "slerp", *common)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "method" in proc.stderr and "task_arithmetic" in proc.stderr
    proc = run_cli("train", "merge", "--model", str(tmp_path / "missing"), "--method", "linear", *common)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "neither a preset" in proc.stderr and "missing" in proc.stderr
    assert not out.exists()
    with pytest.raises(InputError, match="--instruct is required by task_arithmetic"):
        run(MergeSettings(base=str(trio["base"]), langs=["sw"]), model=str(trio["adapted"]),
            data=f"flores:{flores}", out=out)
    with pytest.raises(InputError, match="dev lines 2000:2010 select nothing"):
        run(MergeSettings(method="linear", base=str(trio["base"]), langs=["sw"], dev_lines="2000:2010"),
            model=str(trio["adapted"]), data=f"flores:{flores}", out=out)
    assert not out.exists()


def test_recipe_merge_stage_feeds_eval(trio, flores, tmp_path):
    """merge between dpo and eval: its base defaults to the recipe's model, its dev data to
    eval's, and eval scores the merged model."""
    from lingualift.run import recipe as recipes
    from lingualift.run import runner

    spec = {"name": "m", "runs": str(tmp_path / "runs"), "model": str(trio["base"]), "langs": ["swh_Latn"],
            "merge": {"method": "linear", "weights": [0.5, 1.0], "dev_lines": "900:902", "max_new_tokens": 4},
            "eval": {"data": f"flores:{flores}", "offset": 800, "limit": 2, "metrics": ["chrf++"],
                     "max_new_tokens": 4, "template": "chat", "tasks": [], "retention": {"tasks": []}}}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(spec))
    recipe = recipes.load(path)
    assert recipe.stages() == ["merge", "eval", "report"] and recipe.merge.data == f"flores:{flores}"
    # no training stage here: the model merged is the recipe's, which is also the default base
    with pytest.raises(InputError, match="the adapted model is the base itself"):
        runner.run(recipe, log=lambda message: None)
    assert not (tmp_path / "runs" / "m" / "merge").exists()
    spec["merge"]["base"] = str(trio["adapted"])
    path.write_text(yaml.safe_dump(spec))
    steps = runner.run(recipes.load(path), log=lambda message: None)
    assert [s.status for s in steps] == ["run"] * 3
    folder = tmp_path / "runs" / "m"
    info = json.loads((folder / "merge" / "merge.json").read_text())
    assert info["metric"] == "chrf++" and [r["weight"] for r in info["scores"]] == [0.5, 1.0]
    assert set(info["scores"][0]["parts"]) == {"eng_Latn-swh_Latn", "swh_Latn-eng_Latn"}
    results = json.loads((folder / "eval" / "adapted" / "results.json").read_text())
    assert results["meta"]["model"] == str(folder / "merge" / "model")
    assert "chrf++" in (folder / "merge" / "model" / "README.md").read_text()  # eval's scores on its card
    again = runner.run(recipes.load(path), log=lambda message: None)
    assert [s.status for s in again] == ["done"] * 3


def test_a_killed_merge_resumes_without_rescoring(trio, flores, tmp_path, monkeypatch):
    from lingualift.train import merge_dev

    scored = []
    real = merge_dev.score

    def score(dev, model, settings, advance):
        scored.append(model.name)
        if len(scored) == 2:
            raise KeyboardInterrupt  # killed while scoring the second weight
        return real(dev, model, settings, advance)

    monkeypatch.setattr(merge_dev, "score", score)
    settings = MergeSettings(method="linear", weights=[0.25, 0.75], base=str(trio["base"]), metric="ppl",
                             dev_lines=DEV, langs=["sw"])
    args = {"model": str(trio["adapted"]), "data": f"flores:{flores}", "out": tmp_path / "m"}
    with pytest.raises(KeyboardInterrupt):
        run(settings, **args)
    with pytest.raises(InputError, match="unfinished merge: pass --resume"):
        run(settings, **args)
    info = run(settings, **args, resume=True)
    assert scored == ["w0.25", "w0.75", "w0.75"]  # the first weight's score was kept
    assert [r["weight"] for r in info["scores"]] == [0.25, 0.75] and (tmp_path / "m" / "model" / "config.json").is_file()
    with pytest.raises(InputError, match="already has a merged model"):
        run(settings, **args, resume=True)
