"""`lingualift run`: caching, invalidation, resume after a kill, --from/--only, dry runs,
retention and gates, variants."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from conftest import ROOT, run_cli

RECIPES = ["demo", "demo-sample", "llamax", "sambalingo", "tower",
           *(f"{p.parent.name}/{p.stem}" for folder in ("ablations", "experiments")
             for p in sorted((ROOT / "recipes" / folder).glob("*.yaml")))]


@pytest.mark.parametrize("name", RECIPES)
def test_dry_run_validates_shipped_recipes(name):
    proc = run_cli("run", f"recipes/{name}.yaml", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "report" in proc.stdout and "eval" in proc.stdout
    shown = run_cli("recipe", "show", f"recipes/{name}.yaml")
    assert shown.returncode == 0 and yaml.safe_load(shown.stdout)["name"]


def test_demo_falls_back_to_own_sample_without_shared_data(tmp_path):
    """A fresh machine without ../shared/data: the demo says so and plans on samples/swahili."""
    work = tmp_path / "clone"
    work.mkdir()
    for folder in ("recipes", "samples"):
        subprocess.run(["cp", "-r", str(ROOT / folder), str(work)], check=True)
    proc = subprocess.run([sys.executable, "-m", "lingualift", "run", "recipes/demo.yaml", "--dry-run"],
                          cwd=work, capture_output=True, text=True, env={**os.environ, "COLUMNS": "300"})
    assert proc.returncode == 0, proc.stderr
    assert "../shared/data not found: running recipes/demo-sample.yaml instead" in proc.stdout
    assert "recipe demo-sample" in proc.stdout and "input not found" not in proc.stdout
    eng, swh = ((ROOT / "samples" / "swahili" / f"{c}.txt").read_text(encoding="utf-8").splitlines()
                for c in ("eng_Latn", "swh_Latn"))
    assert len(eng) == len(swh) == 100 and all(eng) and all(swh)
    from lingualift.corpora.sources import load_pair

    src, ref = load_pair(f"flores:{ROOT / 'samples' / 'swahili'}", "eng_Latn", "swh_Latn", "dev", limit=20, offset=80)
    assert src.lines[0] == eng[80] and ref.lines[-1] == swh[99]  # flores: reads the <code>.txt layout


def _recipe(shared, tmp_path, **changes) -> str:
    tatoeba = [str(shared / "tatoeba" / "eng-swa" / f"tatoeba-test-v2021-08-07.{x}") for x in ("eng", "swa")]
    flores = f"flores:{shared / 'flores200'}"
    recipe = {
        "name": "t", "runs": str(tmp_path / "runs"), "model": "tiny", "langs": ["swh_Latn"],
        "vocab": {"corpus": [tatoeba[1]], "add": 100, "heldout": flores, "heldout_lines": "800:850", "compare": []},
        "data": {"sources": [{"type": "flores", "path": str(shared / "flores200"), "langs": ["swh_Latn"],
                              "lines": "0:800"}], "pack": {"block_size": 128}},
        "cpt": {"lr": 1e-3, "max_steps": 6, "batch_size": 4, "save_steps": 3, "report_to": []},
        "sft": {"data": {"sources": [{"type": "pairs", "paths": tatoeba, "src_lang": "eng_Latn",
                                      "tgt_lang": "swh_Latn"}], "tasks": {"translation": 64}},
                "lr": 1e-3, "max_steps": 4, "batch_size": 4, "max_length": 256, "report_to": []},
        "eval": {"data": flores, "directions": "en-x,x-en", "offset": 800, "limit": 4, "metrics": ["chrf++"],
                 "max_new_tokens": 16, "ppl_lines": "800:820", "tasks": ["sib200"], "retention": {"tasks": ["sib200"]},
                 "tasks_limit": 8, "tasks_data": str(shared / "tasks")},
    }
    for dotted, value in changes.items():
        node = recipe
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node[key]
        node[leaf] = value
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))  # variants: the first is the reference
    return str(path)


def _statuses(stdout: str) -> dict:
    return {line.split()[0]: line.split()[1] for line in stdout.splitlines()
            if line.split()[:1] and line.split()[0] in ("vocab", "data", "cpt", "sft", "dpo", "grpo", "eval", "report")}


def test_cache_invalidate_resume(shared, tmp_path):
    run = tmp_path / "runs" / "t"
    first = run_cli("run", _recipe(shared, tmp_path))
    assert first.returncode == 0, first.stderr
    assert set(_statuses(first.stdout).values()) == {"run"}
    report = (run / "report" / "report.html").read_text()
    assert "Translation, base -&gt; adapted" in report or "Translation, base -> adapted" in report
    summary = json.loads((run / "report" / "summary.json").read_text())
    assert summary["perplexity"]["swh_Latn"]["adapted"] < summary["perplexity"]["swh_Latn"]["base"]
    assert summary["fertility"]["swh_Latn"]["change"] < 0
    chrf = summary["translation"]["eng_Latn-swh_Latn"]["chrf++"]  # the paired test of adapted against base
    assert "bs:1000|seed:12345" in chrf["signature"] and chrf["ci"][0] <= chrf["delta"] <= chrf["ci"][1]
    assert "p=" in report
    # retention beside gains: English perplexity and English SIB-200, base and adapted alike, with tests
    english = summary["perplexity"]["eng_Latn"]
    assert english["suite"] == "retention" and summary["perplexity"]["swh_Latn"]["suite"] == "target"
    assert english["ci"][0] <= english["delta"] <= english["ci"][1] and "ppl_char|test:bs" in english["signature"]
    assert english["delta"] == pytest.approx(english["adapted"] - english["base"], abs=2e-3)
    kept = summary["tasks"]["retention"]["sib200"]["eng_Latn"]
    assert set(kept) >= {"base", "adapted", "ci", "p_value"} and "swh_Latn" in summary["tasks"]["target"]["sib200"]
    assert "Kept: the retention suite" in report and "held-out text eng_Latn" in report

    cpt_weights = run / "cpt" / "model" / "model.safetensors"
    stamp = cpt_weights.stat().st_mtime_ns
    again = run_cli("run", _recipe(shared, tmp_path))
    assert again.returncode == 0 and set(_statuses(again.stdout).values()) == {"done"}
    assert cpt_weights.stat().st_mtime_ns == stamp

    changed = run_cli("run", _recipe(shared, tmp_path, **{"sft.lr": 5e-4}))
    assert changed.returncode == 0, changed.stderr
    assert _statuses(changed.stdout) == {"vocab": "done", "data": "done", "cpt": "done", "sft": "run",
                                         "eval": "run", "report": "run"}
    assert cpt_weights.stat().st_mtime_ns == stamp

    only = run_cli("run", _recipe(shared, tmp_path, **{"sft.lr": 5e-4}), "--only", "report")
    assert only.returncode == 0 and _statuses(only.stdout) == {"report": "run"}

    # resume: a longer CPT, killed after its checkpoint at step 10, picks up from there
    longer = _recipe(shared, tmp_path, **{"cpt.max_steps": 30, "cpt.save_steps": 10})
    proc = subprocess.Popen([sys.executable, "-m", "lingualift", "run", longer], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    checkpoint = run / "cpt" / "train" / "checkpoints" / "checkpoint-10" / "trainer_state.json"
    while not checkpoint.is_file() and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    resumed = run_cli("run", longer)
    assert resumed.returncode == 0, resumed.stderr
    statuses = _statuses(resumed.stdout)
    assert statuses["vocab"] == statuses["data"] == "done" and statuses["cpt"] == "resume"
    manifest = json.loads((run / "cpt" / "train" / "manifest.json").read_text())
    assert manifest["steps"] == 30

    bad = run_cli("run", longer, "--from", "nope")
    assert bad.returncode == 2 and "--from 'nope'" in bad.stderr


def test_only_a_stage_whose_input_was_never_made_fails_in_one_line(shared, tmp_path):
    proc = run_cli("run", _recipe(shared, tmp_path), "--only", "sft")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "sft needs the model that cpt makes" in lines[0] and "cpt/outputs.json" in lines[0]
    assert not (tmp_path / "runs" / "t" / "sft").exists()


def test_recipe_errors_name_the_key_the_file_and_the_line(shared, tmp_path):
    path = _recipe(shared, tmp_path)
    text = open(path).read()
    with open(path, "w") as handle:
        handle.write(text.replace("max_steps: 6", "max_steps: 6\n  max_stepz: 7"))
    proc = run_cli("run", path, "--dry-run")
    assert proc.returncode == 2
    line = proc.stderr.strip()
    number = next(i for i, row in enumerate(open(path).read().splitlines(), 1) if "max_stepz" in row)
    assert line == f"error: {path}:{number}: cpt.max_stepz: unknown key 'max_stepz'"
    legacy = tmp_path / "old.yaml"
    legacy.write_text(text.replace("  lr: 0.001\n  max_steps: 4", "  train: {lr: 0.001}\n  max_steps: 4", 1))
    proc = run_cli("run", str(legacy), "--dry-run")
    assert proc.returncode == 2 and "sft.train: training settings now sit directly under sft" in proc.stderr


def test_a_stage_failing_on_bad_input_leaves_no_stage_behind(flores, tmp_path):
    """The eval stage meets a language its data lacks: one line, exit 2, and no half-made eval
    folder (no stage.json that a later run would read as this stage's state)."""
    missing = tmp_path / "flores"
    missing.mkdir()
    for code in ("eng_Latn",):
        (missing / f"{code}.dev").write_text((flores / f"{code}.dev").read_text())
    recipe = {"name": "bad", "runs": str(tmp_path / "runs"), "model": "tiny", "langs": ["swh_Latn"],
              "eval": {"data": f"flores:{missing}", "limit": 2, "metrics": ["chrf++"], "max_new_tokens": 4}}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(recipe))
    proc = run_cli("run", str(path))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "no FLORES file for swh_Latn" in proc.stderr
    assert not (tmp_path / "runs" / "bad" / "eval").exists()


def test_variants_share_stages_and_gates_end_the_run_with_status_3(shared, tmp_path):
    """Two variants that differ only in SFT: vocab, data and CPT run once (the second variant
    reads the first's), the table has both rows with paired tests; a gate that is not met
    (here one on a number the run did not measure) ends the run with exit 3, artefacts kept."""
    path = _recipe(shared, tmp_path, variants={"ref": {}, "hot": {"sft.lr": 5e-3}},
                   gates=[{"metric": "ppl_char", "on": "sw", "must": "improve"},
                          {"metric": "xnli", "on": "en", "max_drop": 5}])
    proc = run_cli("run", path, env={"COLUMNS": "300"})
    assert proc.returncode == 3, proc.stderr
    second = proc.stdout[proc.stdout.index("variant hot"):]
    statuses = _statuses(second)
    assert statuses == {"vocab": "done", "data": "done", "cpt": "done", "sft": "run", "eval": "run", "report": "run"}
    assert f"{tmp_path}/runs/t/ref/cpt" in second.replace("\n", "") and not (tmp_path / "runs/t/hot/cpt").exists()
    assert "gate failed (ref): xnli on eng_Latn falls at most 5: not measured by this run" in proc.stdout
    summary = json.loads((tmp_path / "runs/t/hot/report/summary.json").read_text())
    assert [g["passed"] for g in summary["gates"]] == [True, False]
    assert 'class="gate-failed"' in (tmp_path / "runs/t/hot/report/report.html").read_text()

    rows = list(csv.DictReader((tmp_path / "runs/t/variants.csv").open()))
    assert [r["variant"] for r in rows] == ["ref", "hot"]
    column = "chrf++ eng_Latn-swh_Latn"
    assert rows[0][f"{column} delta"] == "" and rows[1][f"{column} delta"] != ""
    low, delta, high = (float(rows[1][f"{column} {k}"]) for k in ("ci_low", "delta", "ci_high"))
    assert low <= delta <= high
    assert float(rows[1][column]) - float(rows[0][column]) == pytest.approx(delta, abs=1e-6)
    assert rows[1]["ppl_char eng_Latn (retention) p"] != "" and "sib200 eng_Latn (retention)" in rows[1]
    assert "sft.lr: 0.005" in (tmp_path / "runs/t/variants.html").read_text()
    # costs beside scores, without a test: the shared vocab and CPT give both rows the same
    for cost in ("tokens/word swh_Latn", "cpt s/step"):
        assert float(rows[0][cost]) == float(rows[1][cost]) > 0 and rows[1][f"{cost} delta"] == ""

    again = run_cli("run", path)  # nothing to do, and the gate still fails
    assert again.returncode == 3 and set(_statuses(again.stdout).values()) == {"done"}


def test_grpo_stage_draws_its_records_from_sources_and_trains(shared, tmp_path):
    """A recipe's grpo stage: parallel records from a data-build source (both directions,
    `examples` of them), TRL's GRPOTrainer for max_steps with the reward terms logged; a re-run
    does nothing."""
    tatoeba = [str(shared / "tatoeba" / "eng-swa" / f"tatoeba-test-v2021-08-07.{x}") for x in ("eng", "swa")]
    recipe = {"name": "g", "runs": str(tmp_path / "runs"), "model": "tiny", "langs": ["swh_Latn"],
              "grpo": {"data": {"sources": [{"type": "pairs", "paths": tatoeba, "src_lang": "eng_Latn",
                                             "tgt_lang": "swh_Latn"}], "examples": 16},
                       "max_steps": 2, "batch_size": 4, "num_generations": 4, "max_completion_length": 8,
                       "template": "llamax-alpaca", "logging_steps": 1, "report_to": []}}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    first = run_cli("run", str(path))
    assert first.returncode == 0, first.stderr
    assert _statuses(first.stdout) == {"grpo": "run", "report": "run"}
    stage = tmp_path / "runs" / "g" / "grpo"
    records = [json.loads(line) for line in (stage / "data.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(records) == 16 and {r["src_lang"] for r in records} == {"eng_Latn", "swh_Latn"}
    pairs = set(zip(*(open(p, encoding="utf-8").read().splitlines() for p in tatoeba)))
    assert all((r["src"], r["tgt"]) in pairs or (r["tgt"], r["src"]) in pairs for r in records)
    manifest = json.loads((stage / "train" / "manifest.json").read_text())
    assert manifest["steps"] == 2 and "rewards/chrf/mean" in manifest["rewards"]
    assert json.loads((stage / "outputs.json").read_text())["model"] == str(stage / "model")
    again = run_cli("run", str(path))
    assert again.returncode == 0 and set(_statuses(again.stdout).values()) == {"done"}


def test_a_local_model_folder_joins_the_fingerprints(tmp_path):
    """A recipe that starts from another run's model (recipes/experiments/*): retraining that
    model changes every stage's fingerprint and the base evaluation's key, a preset name does not."""
    from lingualift.run.recipe import Recipe
    from lingualift.run.runner import plan

    model = tmp_path / "sft" / "model"
    model.mkdir(parents=True)
    (model / "config.json").write_text("{}")
    recipe = Recipe(name="x", runs=str(tmp_path / "runs"), model=str(model), langs=["swh_Latn"],
                    grpo={"data": str(tmp_path / "pairs.jsonl")})
    before = [step.fingerprint for step in plan(recipe)]
    (model / "config.json").write_text('{"retrained": true}')
    after = [step.fingerprint for step in plan(recipe)]
    assert all(a != b for a, b in zip(before, after))
    preset = recipe.model_copy(update={"model": "tiny"})
    assert preset.model_files() == [] and recipe.model_files() == [str(model)]


def test_synth_stage_back_translates_in_rounds_and_feeds_sft(shared, tmp_path):
    """Iterative back-translation in a recipe: round 1 translates Swahili with the model so far,
    its pairs train a round SFT that is scored on the held-out lines and translates round 2;
    the last round's pairs are in the sft stage's data, and the report shows the rounds."""
    flores = shared / "flores200"
    pairs = {"type": "flores", "path": str(flores), "pairs": ["eng_Latn-swh_Latn"], "lines": "0:40"}
    recipe = {"name": "s", "runs": str(tmp_path / "runs"), "model": "tiny", "langs": ["swh_Latn"],
              "synth": {"sources": [{"type": "flores", "path": str(flores), "langs": ["swh_Latn"], "lines": "40:56"}],
                        "lang": "swh_Latn", "rounds": 2, "template": "llamax-alpaca", "max_new_tokens": 12,
                        "batch_size": 16,
                        # tiny's random weights write no English: keep its pairs so the rounds have data
                        "filters": {"language": False, "repetition": False, "max_length_ratio": 100, "dedup": False}},
              "sft": {"data": {"sources": [pairs], "tasks": {"translation": 24}}, "template": "llamax-alpaca",
                      "lr": 1e-3, "max_steps": 2, "batch_size": 4, "max_length": 512, "report_to": []},
              "eval": {"data": f"flores:{flores}", "directions": "eng_Latn-swh_Latn", "offset": 800, "limit": 4,
                       "template": "llamax-alpaca", "metrics": ["chrf++"], "max_new_tokens": 8, "tasks": [],
                       "retention": {"ppl": False, "tasks": []}}}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    proc = run_cli("run", str(path))
    assert proc.returncode == 0, proc.stderr
    run = tmp_path / "runs" / "s"
    rounds = json.loads((run / "synth" / "rounds.json").read_text())
    assert [r["round"] for r in rounds] == [1, 2] and rounds[0]["model"] == "tiny"
    assert rounds[1]["model"] == str(run / "synth" / "round-1" / "model")  # round 2 translates with round 1's SFT
    assert rounds[0]["texts"] == 16 and rounds[0]["pairs"] == 16 and "eng_Latn-swh_Latn" in rounds[0]["heldout"]
    assert all(r["pairs"] + sum(r["removed"].values()) == 16 for r in rounds)  # each text kept or counted
    synthetic = [json.loads(line) for line in (run / "synth" / "round-1" / "pairs.jsonl").read_text().splitlines()]
    assert all(r["meta"]["synthetic"]["round"] == 1 and r["src_lang"] == "eng_Latn" for r in synthetic)
    swahili = set((flores / "swh_Latn.dev").read_text(encoding="utf-8").splitlines()[40:56])
    assert {r["tgt"] for r in synthetic} == swahili  # back-translation: the target side is human text
    round_sft = (run / "synth" / "round-1" / "data.jsonl").read_text(encoding="utf-8")
    assert any(json.dumps(r["tgt"], ensure_ascii=False)[1:-1] in round_sft for r in synthetic)
    # the sft stage reads the last round's pairs as one more source
    sources = json.loads((run / "sft" / "data.jsonl.report.json").read_text())["config"]["sources"]
    assert sources[-1]["name"] == "synthetic" and sources[-1]["path"] == str(run / "synth" / "round-2" / "pairs.jsonl")
    summary = json.loads((run / "report" / "summary.json").read_text())
    assert len(summary["synth"]) == 2 and "eng_Latn-swh_Latn" in summary["synth"][1]["heldout"]
    assert "Back-translation rounds" in (run / "report" / "report.html").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**recipe, "sft": {**recipe["sft"], "data": "file.jsonl"}}, sort_keys=False))
    refused = run_cli("run", str(bad), "--dry-run")
    assert refused.returncode == 2 and "sft.data" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
