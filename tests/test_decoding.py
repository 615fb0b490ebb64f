"""Quality-aware decoding: MBR and reranking choose what their definitions say, end to end."""

import itertools
import json

import pytest
import sacrebleu

from conftest import run_cli
from lingualift.core.io import read_lines
from lingualift.quality import decoding


def _brute_force_mbr(candidates: list[str]) -> int:
    """The textbook argmax of mean chrF++ against every other candidate, straight from sacrebleu."""
    means = []
    for i, hyp in enumerate(candidates):
        others = [sacrebleu.sentence_chrf(hyp, [ref], word_order=2).score for j, ref in enumerate(candidates) if j != i]
        means.append(sum(others) / len(others))
    return max(range(len(candidates)), key=lambda i: (means[i], -i))


def test_mbr_with_chrf_picks_what_brute_force_picks(flores):
    lines = read_lines(flores / "swh_Latn.dev")[:6]
    words = [line.split() for line in lines]
    for k, sentence in enumerate(words):
        # candidates: the sentence with different words dropped, one unrelated line, one repetition
        candidates = [" ".join(sentence[:i] + sentence[i + 1:]) for i in range(0, min(len(sentence), 5))]
        candidates += [lines[(k + 1) % len(lines)], " ".join(sentence[:2] * 4)]
        assert decoding.mbr_pick(candidates, decoding.utility("chrf++")) == _brute_force_mbr(candidates)


def test_mbr_with_bleu_and_ties():
    u = decoding.utility("bleu")
    same = ["a b c d", "a b c d", "x y z w"]
    assert decoding.mbr_pick(same, u) == 0  # tied with its twin: the earlier one
    assert decoding.mbr_pick(["only"], u) == 0


def test_rerank_heuristic_is_the_documented_sum():
    source = "The cat sleeps on the warm stones near the door."
    good = "Paka analala juu ya mawe ya joto karibu na mlango."
    english = "The cat sleeps on the warm stones near the door."
    loop = "paka paka paka paka paka paka paka paka"
    short = "Paka."
    scores = {c: decoding.heuristic_score(c, source, "swh_Latn") for c in (good, english, loop, short)}
    assert max(scores, key=scores.get) == good
    assert decoding.rerank_pick([english, loop, short, good], source, "swh_Latn") == 3
    assert scores[loop] < scores[good] and scores[english] <= scores[good] - 0.9  # the language term is 1
    assert decoding.rerank_pick(["a", "b"], "x", "swh_Latn", qe=[0.1, 0.7]) == 1  # a QE score decides when given


@pytest.mark.parametrize("how", ["mbr", "rerank"])
def test_eval_translate_with_quality_aware_decoding(flores, tmp_path, how):
    out = tmp_path / how
    proc = run_cli("eval", "translate", "--model", "tiny", "--data", f"flores:{flores}", "--directions", "en-sw",
                   "--limit", "3", "--max-new-tokens", "6", "--metrics", "chrf++", "--decoding", how,
                   "--candidates", "3", "--do-sample", "--epsilon", "0.02", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    result = json.loads((out / "results.json").read_text())
    record = result["directions"][0]
    assert record["n"] == 3 and record["decoding"].startswith(how)
    assert "candidates:3|from:samples" in record["decoding"]
    assert result["meta"]["decoding"]["decoding"] == how


def test_candidates_come_from_the_beam_or_from_samples():
    from lingualift.inference.generate import GenerationParams, load_generator

    gen = load_generator("tiny", engine="hf")
    beam = gen.candidates(["Hello"], GenerationParams(max_new_tokens=4, stop=()), 3)
    assert len(beam) == 1 and len(beam[0]) == 3
    greedy = gen.generate(["Hello"], GenerationParams(max_new_tokens=4, stop=(), num_beams=3))
    assert beam[0][0] == greedy[0]  # the beam's best is beam search's answer
    samples = gen.candidates(["Hello"] * 2, GenerationParams(max_new_tokens=4, stop=(), do_sample=True), 4)
    assert [len(row) for row in samples] == [4, 4]
    assert len(set(itertools.chain(*samples))) > 1
