"""Our metrics against sacrebleu's own functions, on real FLORES dev lines."""

import os
import random
import subprocess
import sys

import pytest
import sacrebleu

from lingualift import metrics
from lingualift.core.io import read_lines


def perturb(lines: list[str], seed: int) -> list[str]:
    """Hypotheses of varied quality: words dropped, swapped and truncated."""
    rng = random.Random(seed)
    out = []
    for line in lines:
        words = line.split()
        if len(words) > 3:
            words = [w for w in words if rng.random() > 0.2]
            i = rng.randrange(max(len(words) - 1, 1))
            words[i:i + 2] = reversed(words[i:i + 2])
            if rng.random() < 0.3:
                words = words[: len(words) // 2]
        out.append(" ".join(words))
    return out


@pytest.mark.parametrize("code", ["swh_Latn", "fra_Latn", "rus_Cyrl", "hin_Deva", "zho_Hans", "tha_Thai"])
def test_bleu_chrf_ter_equal_sacrebleu(flores, code):
    refs = read_lines(flores / f"{code}.dev")[:200]
    hyps = perturb(refs, seed=len(code))
    ours = metrics.score_all(hyps, refs, code, names=("bleu", "chrf++", "ter"))
    tok = "zh" if code == "zho_Hans" else "13a"
    assert ours["bleu"].score == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs], tokenize=tok).score, abs=1e-9)
    assert ours["chrf++"].score == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs], word_order=2).score, abs=1e-9)
    assert ours["ter"].score == pytest.approx(sacrebleu.corpus_ter(hyps, [refs]).score, abs=1e-9)
    assert f"tok:{tok}" in ours["bleu"].signature
    assert "nw:2" in ours["chrf++"].signature  # chrF++, not plain chrF
    assert 0 < ours["bleu"].score < 100


@pytest.fixture(scope="module")
def spm_file(flores, tmp_path_factory):
    """A small SentencePiece model trained on FLORES text, standing in for sacrebleu's."""
    import sentencepiece

    folder = tmp_path_factory.mktemp("spm")
    text = folder / "train.txt"
    text.write_text("\n".join(line for c in ("eng_Latn", "swh_Latn", "tha_Thai")
                              for line in read_lines(flores / f"{c}.dev")[:300]), encoding="utf-8")
    sentencepiece.SentencePieceTrainer.train(input=str(text), model_prefix=str(folder / "m"), vocab_size=800,
                                             character_coverage=1.0, minloglevel=2)
    return folder / "m.model"


def test_spbleu_equals_sacrebleu_with_same_model(flores, spm_file, tmp_path):
    refs = read_lines(flores / "swh_Latn.dev")[:150]
    hyps = perturb(refs, seed=3)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "flores200sacrebleuspm").write_bytes(spm_file.read_bytes())
    hyp_file, ref_file = tmp_path / "h.txt", tmp_path / "r.txt"
    hyp_file.write_text("\n".join(hyps), encoding="utf-8")
    ref_file.write_text("\n".join(refs), encoding="utf-8")
    # sacrebleu reads $SACREBLEU at import, so its own number comes from a fresh process.
    code = ("import sacrebleu,sys; h=open(sys.argv[1]).read().split('\\n'); r=open(sys.argv[2]).read().split('\\n');"
            "b=sacrebleu.BLEU(tokenize='flores200'); print(repr(b.corpus_score(h,[r]).score)); print(b.get_signature())")
    proc = subprocess.run([sys.executable, "-c", code, str(hyp_file), str(ref_file)], capture_output=True, text=True,
                          env={**os.environ, "SACREBLEU": str(tmp_path)}, check=True)
    reference_score, reference_sig = float(proc.stdout.splitlines()[0]), proc.stdout.splitlines()[1]

    os.environ["SACREBLEU"] = str(tmp_path)
    try:
        via_cache = metrics.score_all(hyps, refs, "swh_Latn", names=("spbleu_flores200",))["spbleu_flores200"]
    finally:
        del os.environ["SACREBLEU"]
    explicit = metrics.score_all(hyps, refs, "swh_Latn", names=("spbleu_flores200",),
                                 options=metrics.Options(spm_model=str(spm_file)))["spbleu_flores200"]
    assert via_cache.score == pytest.approx(reference_score, abs=1e-9)
    assert explicit.score == pytest.approx(reference_score, abs=1e-9)
    assert via_cache.signature == reference_sig and "tok:flores200" in reference_sig


def test_spbleu_missing_model_is_unavailable(tmp_path, monkeypatch):
    monkeypatch.setenv("SACREBLEU", str(tmp_path))
    score = metrics.score_all(["a b c"], ["a b c"], "swh_Latn", names=("spbleu_flores101",))["spbleu_flores101"]
    assert score.score is None
    assert "unavailable" in score.unavailable and str(tmp_path / "models") in score.unavailable


def test_off_target_rate(flores):
    eng = read_lines(flores / "eng_Latn.dev")[:40]
    swh = read_lines(flores / "swh_Latn.dev")[:40]
    tha = read_lines(flores / "tha_Thai.dev")[:40]
    sat = read_lines(flores / "sat_Olck.dev")[:40]  # Santali: not in lid.176, decided by script
    rate = lambda hyps, code: metrics.off_target(hyps, hyps, code, None, None).score  # noqa: E731
    assert rate(swh, "swh_Latn") <= 5.0
    assert rate(eng, "swh_Latn") == 100.0
    assert rate(tha, "tha_Thai") == 0.0
    assert rate(eng, "tha_Thai") == 100.0
    assert rate(sat, "sat_Olck") == 0.0
    assert rate(eng, "sat_Olck") == 100.0
    assert rate(["", "12 345", "^^^^"], "swh_Latn") == 100.0
    assert rate(["^^^^^^^^", "...", "?"], "eng_Latn") == 100.0


def test_repetition_and_over_generation():
    hyps = ["la la la la la la", "Habari ya asubuhi", "ok " * 40]
    refs = ["Habari", "Habari ya asubuhi", "ok"]
    assert metrics.repetition(hyps, refs, "swh_Latn", None, None).score == pytest.approx(200 / 3)
    assert metrics.over_generation(hyps, refs, "swh_Latn", None, None).score == pytest.approx(200 / 3)


def test_comet_without_install_is_unavailable(monkeypatch):
    monkeypatch.delenv("LINGUALIFT_COMET_BIN", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    score = metrics.score_all(["a"], ["a"], "swh_Latn", ["a"], names=("comet",))["comet"]
    assert score.score is None and "unbabel-comet" in score.unavailable


def test_comet_runs_in_its_own_process(tmp_path, monkeypatch):
    """The subprocess contract with a stand-in `comet-score` printing COMET's summary line."""
    fake = tmp_path / "comet-score"
    fake.write_text("#!/bin/sh\necho 'Unbabel/wmt22-comet-da score: 0.8123'\n")
    fake.chmod(0o755)
    model = tmp_path / "model.ckpt"
    model.write_text("x")
    monkeypatch.setenv("LINGUALIFT_COMET_BIN", str(fake))
    score = metrics.score_all(["a"], ["a"], "swh_Latn", ["a"], names=("comet",),
                              options=metrics.Options(comet_model=str(model)))["comet"]
    assert score.score == pytest.approx(0.8123)
