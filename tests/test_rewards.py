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
