"""Significance: our paired tests give sacrebleu's own numbers (its CLI in a subprocess, same
systems, same seed), a system compared with itself is never significant, the per-item bootstrap
is deterministic with its seed, and `eval translate --compare` shows CI and p end to end."""

import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from lingualift.core.io import InputError, read_lines
from lingualift.eval.config import TranslateSettings
from lingualift.eval.translate import run
from lingualift.lang import langid
from lingualift.metrics import significance as sig
from lingualift.metrics.base import Options
from lingualift.run import report as run_report
from lingualift.tasks import task_report

SACREBLEU = Path(sys.executable).parent / "sacrebleu"
LINES = 200
# sacrebleu 2.6's CLI cannot write --paired-bs as JSON (numpy float32 in json.dumps): this runs
# the same CLI entry point, arguments and all, with a JSON encoder that accepts numpy floats.
EXACT_CLI = ("import json, sys; dumps = json.dumps\n"
             "json.dumps = lambda o, **k: dumps(o, default=float, **k)\n"
             "from sacrebleu.sacrebleu import main; sys.argv = ['sacrebleu', *sys.argv[1:]]; main()")
NAMES = {"chrF2++": "chrf++", "BLEU": "bleu", "TER": "ter"}


def _drop(lines: list[str], every: int, seed: int) -> list[str]:
    """A degraded system: words dropped at random (about one in `every`), two words swapped."""
    rng = random.Random(seed)
    out = []
    for line in lines:
        words = [w for w in line.split() if rng.randrange(every)]
        if len(words) > 3:
            i = rng.randrange(len(words) - 1)
            words[i:i + 2] = reversed(words[i:i + 2])
        out.append(" ".join(words))
    return out


@pytest.fixture(scope="module")
def systems(flores, tmp_path_factory):
    folder = tmp_path_factory.mktemp("systems")
    refs = read_lines(flores / "fra_Latn.dev")[:LINES]
    texts = {"ref": refs, "a": _drop(refs, 6, 1), "b": _drop(refs, 5, 2), "a_copy": None}
    texts["a_copy"] = texts["a"]
    for name, lines in texts.items():
        (folder / f"{name}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return SimpleNamespace(folder=folder, **texts)


@pytest.fixture(autouse=True)
def default_seed(monkeypatch):
    monkeypatch.delenv("SACREBLEU_SEED", raising=False)


def _cli(folder: Path, *args: str, exact: bool = False, env: dict | None = None):
    command = [sys.executable, "-c", EXACT_CLI] if exact else [str(SACREBLEU)]
    proc = subprocess.run([*command, "ref.txt", "-i", "a.txt", "b.txt", *args], cwd=folder, capture_output=True,
                          text=True, env={**os.environ, "SACREBLEU_SEED": "12345", **(env or {})})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_paired_bootstrap_equals_sacrebleu_cli(systems):
    options = ("--paired-bs", "-m", "chrf", "bleu", "ter", "--chrf-word-order", "2")
    baseline, system = json.loads(_cli(systems.folder, *options, "--format", "json", exact=True))
    text = _cli(systems.folder, *options, "--format", "text", "-w", "6", "--no-color")
    ours = {name: sig.corpus_test(name, systems.a, systems.b, systems.ref, "fra_Latn") for name in NAMES.values()}
    for key, name in NAMES.items():
        r = ours[name]
        assert r.baseline == baseline[key]["score"] and r.system == system[key]["score"]
        assert r.p_value == system[key]["p_value"]
        assert r.system_mean == system[key]["mean"] and r.system_ci == system[key]["ci"]
        assert r.delta == system[key]["score"] - baseline[key]["score"]
        lo, hi = r.ci
        assert lo <= r.delta <= hi and r.significant == (r.p_value < 0.05)
        assert r.resamples == 1000 and r.seed == 12345
        assert "bs:1000" in r.signature and "seed:12345" in r.signature
        assert f" - {key:<10} {r.signature}" in text  # the signature the CLI prints, word for word
        assert f"{r.system:.6f} ({r.system_mean:.6f} ± {r.system_ci:.6f})" in text
    assert ours["chrf++"].delta < 0 and ours["ter"].delta > 0  # b drops more words than a
    # the delta's CI comes from the very resamples the test drew
    rng = np.random.default_rng(12345)
    idxs = rng.choice(LINES, size=(1000, LINES), replace=True)
    from sacrebleu.metrics import CHRF

    chrf = CHRF(word_order=2)
    stats = {k: np.array(chrf._extract_corpus_statistics(h, [systems.ref]), dtype="float32")
             for k, h in (("a", systems.a), ("b", systems.b))}
    deltas = np.sort([chrf._compute_score_from_stats(b.sum(0)).score - chrf._compute_score_from_stats(a.sum(0)).score
                      for a, b in zip(stats["a"][idxs], stats["b"][idxs])])
    assert ours["chrf++"].ci == (float(deltas[25]), float(deltas[974]))


def test_approximate_randomization_equals_sacrebleu_cli(systems):
    baseline, system = json.loads(_cli(systems.folder, "--paired-ar", "--paired-ar-n", "2000", "-m", "chrf", "bleu",
                                       "--chrf-word-order", "2", "--format", "json"))
    for key, name in (("chrF2++", "chrf++"), ("BLEU", "bleu")):
        r = sig.corpus_test(name, systems.a, systems.b, systems.ref, "fra_Latn", "ar", n_samples=2000)
        assert (r.baseline, r.system, r.p_value) == (baseline[key]["score"], system[key]["score"],
                                                    system[key]["p_value"])
        assert "ar:2000" in r.signature and "seed:12345" in r.signature and r.resamples == 2000
        assert r.ci[0] <= r.delta <= r.ci[1]


def test_spbleu_paired_bootstrap_equals_sacrebleu_cli(systems, shared, tmp_path):
    """spBLEU through the FLORES-200 tokenizer slot, filled with a local SentencePiece model."""
    spm = shared / "tokenizers" / "llama2-tokenizer.model"
    if not spm.is_file():
        pytest.skip(f"no SentencePiece model at {spm}")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "flores200sacrebleuspm").write_bytes(spm.read_bytes())
    baseline, system = json.loads(_cli(systems.folder, "--paired-bs", "-m", "bleu", "--tokenize", "flores200",
                                       "--format", "json", exact=True, env={"SACREBLEU": str(tmp_path)}))
    r = sig.corpus_test("spbleu_flores200", systems.a, systems.b, systems.ref, "fra_Latn",
                        options=Options(spm_model=str(spm)))
    assert (r.baseline, r.system, r.p_value, r.system_mean, r.system_ci) == (
        baseline["BLEU"]["score"], system["BLEU"]["score"], system["BLEU"]["p_value"], system["BLEU"]["mean"],
        system["BLEU"]["ci"])
    assert "tok:flores200" in r.signature


def test_a_system_against_itself_is_never_significant(systems):
    for test in ("bs", "ar"):
        for name in ("chrf++", "bleu"):
            r = sig.corpus_test(name, systems.a, systems.a_copy, systems.ref, "fra_Latn", test, n_samples=500)
            # sacrebleu would give its floor 1/(n+1) here: only strictly larger differences count
            assert r.delta == 0 and r.p_value == 1.0 and r.ci == (0.0, 0.0) and not r.significant
    items = [float(i % 3 == 0) for i in range(150)]
    same = sig.segment_test("acc", items, list(items), scale=100)
    assert same.p_value == 1.0 and same.ci[0] <= 0 <= same.ci[1] and not same.significant


def test_segment_bootstrap_is_deterministic_and_sacrebleu_shaped(monkeypatch):
    rng = random.Random(0)
    base = [float(rng.random() < 0.55) for _ in range(300)]
    system = [x if rng.random() < 0.8 else 1.0 for x in base]  # mostly the same items right, a few more
    first, again = (sig.segment_test("acc", base, system, scale=100) for _ in range(2))
    assert first == again and first.seed == 12345 and first.resamples == 1000
    assert first.delta == pytest.approx(100 * (np.mean(system) - np.mean(base)))
    assert first.ci[0] <= first.delta <= first.ci[1]
    assert "bs:1000" in first.signature and "seed:12345" in first.signature
    # the same draw and rules as sacrebleu's paired bootstrap, written out
    a, b = np.array(base), np.array(system)
    idxs = np.random.default_rng(12345).choice(300, size=(1000, 300), replace=True)
    diffs = np.abs(b[idxs].mean(1) - a[idxs].mean(1)) * 100
    expected_p = (np.sum(diffs - diffs.mean() > abs(first.delta)) + 1) / 1001
    assert first.p_value == pytest.approx(expected_p)
    deltas = np.sort((b[idxs].mean(1) - a[idxs].mean(1)) * 100)
    assert first.ci == pytest.approx((deltas[25], deltas[974]))
    monkeypatch.setenv("SACREBLEU_SEED", "7")
    other = sig.segment_test("acc", base, system, scale=100)
    assert other.seed == 7 and other.system_mean != first.system_mean and "seed:7" in other.signature


def _part(folder: Path, name: str, accs: list[float], ids=None) -> None:
    examples = [{"id": i, "acc": a} for i, a in zip(ids or range(len(accs)), accs)]
    (folder / "parts").mkdir(parents=True, exist_ok=True)
    (folder / "parts" / f"{name}.json").write_text(json.dumps({"n": len(accs), "examples": examples}))


def test_task_parts_are_paired_by_item(tmp_path):
    base, new = tmp_path / "base", tmp_path / "new"
    rng = random.Random(1)
    accs = [float(rng.random() < 0.5) for _ in range(120)]
    _part(base, "xcopa-sw", accs)
    improved = [1.0 if i >= 90 else a for i, a in enumerate(accs)]  # items 90..119 now right
    ids = list(range(119, -1, -1))  # written in another order: pairing goes by id
    _part(new, "xcopa-sw", [improved[i] for i in ids], ids=ids)
    _part(base, "xnli-en", accs)  # only in the baseline: no test
    results = {"tasks": {"xcopa": {"swh_Latn": {"n": 120, "acc": 60.0}}}}
    found = task_report.significance(results, new, base)
    assert set(found) == {"xcopa"}
    t = found["xcopa"]["swh_Latn"]
    assert t["n"] == 120 and t["delta"] == pytest.approx(100 * (sum(improved) - sum(accs)) / 120)
    assert t["ci"][0] <= t["delta"] <= t["ci"][1] and t["signature"].startswith("acc|test:bs|bs:1000|seed:12345")


def test_run_report_shows_ci_and_p(tmp_path):
    tests = {"eng_Latn-swh_Latn": {"chrf++": {"delta": 0.4, "ci": [-0.3, 1.1], "p_value": 0.27,
                                              "significant": False, "signature": "nrefs:1|bs:1000|seed:12345"}}}
    docs = {"base": {"directions": [{"direction": "eng_Latn-swh_Latn", "scores": {"chrf++": {"score": 20.0}}}]},
            "adapted": {"directions": [{"direction": "eng_Latn-swh_Latn", "scores": {"chrf++": {"score": 20.4}}}],
                        "comparison": {"significance": tests}}}
    outputs = {"eval": {}}
    for role, doc in docs.items():
        (tmp_path / f"{role}.json").write_text(json.dumps(doc))
        outputs["eval"][role] = str(tmp_path / f"{role}.json")
    outputs["eval"]["adapted_report"] = str(tmp_path / "adapted.html")
    numbers = run_report.summary(outputs)
    row = numbers["translation"]["eng_Latn-swh_Latn"]["chrf++"]
    assert row["ci"] == [-0.3, 1.1] and row["p_value"] == 0.27 and row["significant"] is False
    recipe = SimpleNamespace(name="t", model="tiny", langs=["swh_Latn"])
    page = run_report.render(recipe, "adapted", numbers, outputs, tmp_path)
    assert "n.s." in page and "[-0.30, +1.10] p=0.270" in page and 'class="ns"' in page


def test_eval_translate_compare_end_to_end(flores, tmp_path):
    """tiny, 2 directions x 20 lines: a run with a shorter generation limit is the baseline."""
    io = {"model": "tiny", "data": f"flores:{flores}"}
    settings = TranslateSettings(directions="eng_Latn-swh_Latn,swh_Latn-eng_Latn", limit=20, max_new_tokens=16,
                                 batch_size=20, metrics=["chrf++", "bleu", "ter", "off_target"])
    base, new = tmp_path / "base", tmp_path / "new"
    run(settings.model_copy(update={"max_new_tokens": 4}), **io, out=str(base))
    # tiny's random weights score 0 both times: one baseline direction gets good translations
    # (references with words dropped), so the report has a significant change and a null one
    good = _drop(read_lines(flores / "swh_Latn.dev")[:20], 6, 3)
    (base / "directions" / "eng_Latn-swh_Latn" / "hyp.txt").write_text("\n".join(good) + "\n", encoding="utf-8")
    results = run(settings, **io, out=str(new), compare=str(base))
    tests = results["comparison"]["significance"]
    assert set(tests) == {"eng_Latn-swh_Latn", "swh_Latn-eng_Latn"}
    for direction, per_metric in tests.items():
        assert set(per_metric) == {"chrf++", "bleu", "ter", "off_target"}
        hyps = {role: read_lines(folder / "directions" / direction / "hyp.txt", allow_empty=True)
                for role, folder in (("base", base), ("new", new))}
        refs = read_lines(flores / f"{direction.split('-')[1]}.dev")[:20]
        expected = sig.corpus_test("chrf++", hyps["base"], hyps["new"], refs, direction.split("-")[1]).as_dict()
        assert per_metric["chrf++"] == expected
        # the off-target rate: a bootstrap over the per-line verdicts, its point values the reported rates
        flags = {role: [float(langid.is_off_target(h, direction.split("-")[1])) for h in lines]
                 for role, lines in hyps.items()}
        assert per_metric["off_target"] == sig.segment_test("off_target", flags["base"], flags["new"],
                                                            scale=100.0).as_dict()
        assert per_metric["off_target"]["system"] == pytest.approx(
            next(r for r in results["directions"] if r["direction"] == direction)["scores"]["off_target"]["score"])
        assert per_metric["chrf++"]["system"] == pytest.approx(
            next(r for r in results["directions"] if r["direction"] == direction)["scores"]["chrf++"]["score"])
    assert tests["eng_Latn-swh_Latn"]["chrf++"]["significant"] and tests["eng_Latn-swh_Latn"]["chrf++"]["delta"] < -20
    assert not tests["swh_Latn-eng_Latn"]["chrf++"]["significant"]
    saved = json.loads((new / "results.json").read_text())
    assert saved["comparison"]["significance"] == tests and saved["comparison"]["test"] == "bs"
    md = (new / "report.md").read_text()
    significant = re.search(r"\| eng_Latn-swh_Latn \| (-\d+\.\d\d \[-\d+\.\d\d, -\d+\.\d\d\] p=\d\.\d{3})( n\.s\.)? \|", md)
    assert significant and not significant.group(2)
    assert re.search(r"\| swh_Latn-eng_Latn \| \+0\.00 \[\+0\.00, \+0\.00\] p=1\.000 n\.s\. \|", md)
    assert "seed 12345" in md and "bs:1000|seed:12345" in md
    html = (new / "report.html").read_text()
    assert "95% CI" in html and "p=" in html and 'class="ns"' in html
    stamp = (new / "directions" / "eng_Latn-swh_Latn" / "significance.json").stat().st_mtime_ns
    run(settings, **io, out=str(new), compare=str(base))  # cached: the tests are not recomputed
    assert (new / "directions" / "eng_Latn-swh_Latn" / "significance.json").stat().st_mtime_ns == stamp

    shifted = settings.model_copy(update={"offset": 5})
    with pytest.raises(InputError, match="other source lines") as err:
        run(shifted, **io, out=str(tmp_path / "shifted"), compare=str(base))
    assert "\n" not in str(err.value) and not (tmp_path / "shifted").exists()


FAKE_COMET = """#!/bin/sh
while [ $# -gt 0 ]; do case "$1" in -t) hyp="$2"; shift;; esac; shift; done
awk -v f="$hyp" '{s = length($0) / 100; t += s; printf "%s\\tSegment %d\\tscore: %.4f\\n", f, NR - 1, s}
END {printf "%s\\tscore: %.4f\\n", f, t / NR}' "$hyp"
"""


def test_comet_segments_are_bootstrapped_on_compare(flores, tmp_path, monkeypatch):
    """A stand-in comet-score (segment score: length / 100) in COMET's output format."""
    from lingualift.core import assets

    fake = tmp_path / "comet-score"
    fake.write_text(FAKE_COMET)
    fake.chmod(0o755)
    monkeypatch.setenv("LINGUALIFT_COMET_BIN", str(fake))
    monkeypatch.setattr(assets, "hub_snapshot", lambda repo_id, kind="model": tmp_path)
    io = {"model": "tiny", "data": f"flores:{flores}"}
    settings = TranslateSettings(directions="eng_Latn-swh_Latn", limit=10, max_new_tokens=8, batch_size=10,
                                 metrics=["chrf++", "comet"])
    base, new = tmp_path / "base", tmp_path / "new"
    run(settings.model_copy(update={"max_new_tokens": 2}), **io, out=str(base))
    results = run(settings, **io, out=str(new), compare=str(base))
    segments = {role: [float(x) for x in read_lines(folder / "directions" / "eng_Latn-swh_Latn" /
                                                    "comet_segments.txt")] for role, folder in (("a", base), ("b", new))}
    hyps = read_lines(new / "directions" / "eng_Latn-swh_Latn" / "hyp.txt", allow_empty=True)
    # awk counts bytes or characters, by locale
    assert segments["b"] in ([round(len(h) / 100, 4) for h in hyps], [round(len(h.encode()) / 100, 4) for h in hyps])
    test = results["comparison"]["significance"]["eng_Latn-swh_Latn"]["comet"]
    assert test == sig.segment_test("comet", segments["a"], segments["b"]).as_dict()
    assert test["signature"].startswith("comet|test:bs|bs:1000|seed:12345") and "Δ comet" in (new / "report.md").read_text()


def test_perplexity_bootstrap_resamples_lines_as_a_brute_force_loop_does():
    """Per-character perplexity over resampled lines: the same index draw as segment_test,
    each resample's score exp(nats / characters) of its lines; a model against itself is not
    significant."""
    rng = random.Random(3)
    chars = [rng.randint(20, 200) for _ in range(120)]
    base = [c * rng.uniform(1.0, 2.0) for c in chars]
    better = [n * rng.uniform(0.7, 0.95) for n in base]
    result = sig.ppl_test(base, better, chars, n_samples=200, seed_value=7)
    idxs = np.random.default_rng(7).choice(len(chars), size=(200, len(chars)), replace=True)
    deltas = sorted(float(np.exp(sum(better[i] for i in row) / sum(chars[i] for i in row))
                          - np.exp(sum(base[i] for i in row) / sum(chars[i] for i in row))) for row in idxs)
    assert result.ci == pytest.approx((deltas[200 // 40], deltas[200 - 200 // 40 - 1]), rel=1e-9)
    assert result.baseline == pytest.approx(np.exp(sum(base) / sum(chars)))
    assert result.delta < 0 and result.significant and result.ci[1] < 0
    same = sig.ppl_test(base, base, chars)
    assert same.delta == 0 and same.p_value == 1.0 and not same.significant
