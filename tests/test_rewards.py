"""Translation rewards: each term on hand-made outputs, the weighted total, TRL's calling form."""

import pytest

from lingualift.core.io import InputError
from lingualift.quality import rewards

REF = "Paka analala juu ya mawe ya joto karibu na mlango."
SRC = "The cat sleeps on the warm stones near the door."


def _terms(completion: str) -> dict[str, float]:
    _, found = rewards.total({"chrf": 1, "language": 1, "repetition": 1, "length": 1}, [completion], [REF], [SRC],
                             ["swh_Latn"])
    return {name: values[0] for name, values in found.items()}


def test_each_term_on_hand_made_outputs():
    good, wrong_language = _terms(REF), _terms("Le chat dort sur les pierres chaudes près de la porte.")
    assert good == {"chrf": pytest.approx(1.0), "language": 1.0, "repetition": 0.0, "length": pytest.approx(1.0)}
    assert wrong_language["language"] == 0.0 and wrong_language["chrf"] < 0.3
    looping = _terms("paka paka paka paka paka paka paka paka paka")
    assert looping["repetition"] == -1.0
    run_on = _terms(REF + "\n" + " ".join([REF] * 3))
    assert run_on["repetition"] == -1.0 and run_on["chrf"] == pytest.approx(1.0)  # the translation is line one
    assert _terms("Paka.")["length"] < 0.2


def test_weighted_total_and_trl_form():
    weights = {"chrf": 1.0, "language": 0.5, "repetition": 0.5, "length": 0.0}
    sums, found = rewards.total(weights, [REF, "paka " * 9], [REF] * 2, [SRC] * 2, ["swh_Latn"] * 2)
    assert set(found) == {"chrf", "language", "repetition"}  # a zero weight drops its term
    assert sums[0] == pytest.approx(1.0 + 0.5) and sums[1] < sums[0]
    funcs, ws = rewards.for_trl(weights)
    assert [f.__name__ for f in funcs] == ["chrf", "language", "repetition"] and ws == [1.0, 0.5, 0.5]
    conversational = [[{"role": "assistant", "content": REF}]]
    assert funcs[0](prompts=["p"], completions=conversational, reference=[REF], source=[SRC],
                    tgt_lang=["swh_Latn"]) == [pytest.approx(1.0)]
    with pytest.raises(InputError, match="unknown reward term"):
        rewards.terms({"bleurt": 1.0})


def _short_pairs(shared, path):
    import json

    eng = (shared / "tatoeba" / "eng-swa" / "tatoeba-test-v2021-08-07.eng").read_text().splitlines()
    swa = (shared / "tatoeba" / "eng-swa" / "tatoeba-test-v2021-08-07.swa").read_text().splitlines()
    pairs = [(e, s) for e, s in zip(eng, swa) if len(s) <= 8][:12]
    path.write_text("".join(json.dumps({"src": e, "tgt": s, "src_lang": "eng_Latn", "tgt_lang": "swh_Latn"}) + "\n"
                            for e, s in pairs))
    return str(path)


GRPO = ["--model", "tiny", "--batch-size", "8", "--lr", "3e-3", "--num-generations", "4", "--max-completion-length",
        "24", "--logging-steps", "1", "--report-to", "", "--template", "llamax-alpaca", "--set", "rewards={length: 1.0}"]


def test_train_grpo_raises_the_reward_and_resumes(shared, tmp_path):
    """tiny learns to end its answer near the reference's length (the length term alone): the
    mean reward of the last steps is above the first ones'; a run killed after its checkpoint
    and resumed ends at the same step."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    from conftest import ROOT, run_cli

    data = _short_pairs(shared, tmp_path / "pairs.jsonl")
    proc = run_cli("train", "grpo", *GRPO, "--data", data, "--out", str(tmp_path / "g"), "--max-steps", "16",
                   "--save-steps", "16")
    assert proc.returncode == 0, proc.stderr
    rewards = [json.loads(line)["reward"] for line in (tmp_path / "g" / "log.jsonl").read_text().splitlines()
               if "reward" in json.loads(line)]
    assert len(rewards) >= 16 and sum(rewards[-6:]) / 6 > sum(rewards[:6]) / 6
    manifest = json.loads((tmp_path / "g" / "manifest.json").read_text())
    assert "rewards/length/mean" in manifest["rewards"]
    killed = tmp_path / "k"
    args = [sys.executable, "-m", "lingualift", "train", "grpo", *GRPO, "--data", data, "--out", str(killed),
            "--max-steps", "6", "--save-steps", "3"]
    child = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    deadline = time.time() + 300
    while not (killed / "checkpoints" / "checkpoint-3" / "trainer_state.json").is_file() and time.time() < deadline:
        time.sleep(0.1)
    os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    resumed = run_cli(*args[3:], "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((killed / "manifest.json").read_text())["steps"] == 6
