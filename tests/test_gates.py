"""Recipe gates on hand-made report numbers: each rule's arithmetic, and what fails."""

import pytest

from lingualift.run.gates import Gate, check

NUMBERS = {
    "translation": {"eng_Latn-swh_Latn": {"chrf++": {"base": 20.0, "adapted": 24.0, "p_value": 0.001,
                                                     "significant": True},
                                          "bleu": {"base": 5.0, "adapted": 5.4, "p_value": 0.31,
                                                   "significant": False}}},
    "perplexity": {"eng_Latn": {"suite": "retention", "base": 10.0, "adapted": 10.8},
                   "swh_Latn": {"suite": "target", "base": 14.0, "adapted": 6.0}},
    "tasks": {"retention": {"sib200": {"eng_Latn": {"base": 60.0, "adapted": 57.5}}}},
}


@pytest.mark.parametrize("gate, passed, measured", [
    ({"metric": "ppl_char", "on": "en", "max_rise": 0.10}, True, "+8.0%"),
    ({"metric": "ppl_char", "on": "en", "max_rise": 0.05}, False, "+8.0%"),
    ({"metric": "chrf++", "on": "en-sw", "must": "improve_significantly"}, True, "+4.00, p=0.001"),
    ({"metric": "bleu", "on": "en-sw", "must": "improve_significantly"}, False, "+0.40, p=0.310"),
    ({"metric": "bleu", "on": "en-sw", "must": "improve"}, True, "+0.40, p=0.310"),
    ({"metric": "ppl_char", "on": "sw", "must": "improve"}, True, "-8.00"),  # lower is better
    ({"metric": "sib200", "on": "en", "max_drop": 2.0}, False, "-2.50"),
    ({"metric": "sib200", "on": "en", "max_drop": 3.0}, True, "-2.50"),
    ({"metric": "xnli", "on": "en", "max_drop": 3.0}, False, "not measured by this run"),
])
def test_each_rule(gate, passed, measured):
    (result,) = check([Gate(**gate)], NUMBERS)
    assert result["passed"] is passed and result["measured"] == measured


def test_a_gate_has_one_rule_and_known_languages():
    with pytest.raises(ValueError, match="exactly one of"):
        Gate(metric="chrf++", on="en-sw", max_drop=1, must="improve")
    with pytest.raises(Exception, match="unknown language"):
        Gate(metric="ppl_char", on="klingon", max_rise=0.1)
    assert Gate(metric="chrf++", on="en-sw", must="improve").text() == "chrf++ on eng_Latn-swh_Latn improve"
