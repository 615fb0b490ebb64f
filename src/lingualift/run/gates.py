"""Gates: rules a run must meet, checked on the report's numbers (`gates:` in a recipe).

    gates:
      - {metric: ppl_char, on: eng_Latn, max_rise: 0.10}        # English may get 10% worse at most
      - {metric: chrf++, on: eng_Latn-swh_Latn, must: improve_significantly}
      - {metric: sib200, on: eng_Latn, max_drop: 2.0}           # at most 2 points of accuracy lost

`on` is a direction for translation metrics and a language for `ppl_char` and task names.
`max_rise` is relative (a fraction of the base value), `max_drop` absolute (in the metric's
points); both measure change in the raw value, whichever way is better for the metric.
`must: improve` asks for a change in the better direction, `improve_significantly` also for
p < 0.05 in the paired test the report shows. A gate on a number the run did not measure
fails: a rule that cannot be checked is not met. A failed gate leaves every artefact in
place and makes `lingualift run` exit with GATE_FAILED.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from lingualift.core.config import StrictModel
from lingualift.core.io import InputError
from lingualift.lang.languages import resolve_code

GATE_FAILED = 3  # 2 is bad input (every command's); 3 says the run finished and a gate is not met
LOWER_IS_BETTER = ("ppl_char", "ter", "off_target", "repetition", "over_generation")


class Gate(StrictModel):
    metric: str = Field(..., description="chrf++, bleu, spbleu_*, ter, comet (translation), ppl_char, or a task")
    on: str = Field(..., description="a direction (eng_Latn-swh_Latn) or a language (eng_Latn)")
    max_rise: Optional[float] = Field(None, ge=0, description="largest allowed rise, as a fraction of the base value")
    max_drop: Optional[float] = Field(None, ge=0, description="largest allowed fall, in the metric's points")
    must: Optional[Literal["improve", "improve_significantly"]] = None

    @field_validator("on")
    @classmethod
    def _codes(cls, value: str) -> str:
        """Codes or names, as everywhere: `sw` is swh_Latn, `en-sw` is eng_Latn-swh_Latn."""
        try:
            return resolve_code(value)
        except InputError:
            if "-" not in value:
                raise
            return "-".join(resolve_code(part) for part in value.split("-", 1))

    @model_validator(mode="after")
    def _one_rule(self) -> Gate:
        rules = [r for r in (self.max_rise, self.max_drop, self.must) if r is not None]
        if len(rules) != 1:
            raise ValueError("a gate has exactly one of max_rise, max_drop, must")
        return self

    def text(self) -> str:
        rule = (f"rises at most {self.max_rise:.0%}" if self.max_rise is not None else
                f"falls at most {self.max_drop:g}" if self.max_drop is not None else self.must.replace("_", " "))
        return f"{self.metric} on {self.on} {rule}"


def _number(numbers: dict, gate: Gate) -> dict | None:
    """The base / adapted values (and paired test) the gate is about, wherever the summary has them."""
    if gate.metric == "ppl_char":
        return numbers.get("perplexity", {}).get(gate.on)
    found = numbers.get("translation", {}).get(gate.on, {}).get(gate.metric)
    if found is None:
        for suite in numbers.get("tasks", {}).values():
            found = found or suite.get(gate.metric, {}).get(gate.on)
    return found


def check(gates: list[Gate], numbers: dict) -> list[dict]:
    """Each gate with its measured change and whether it passed."""
    results = []
    for gate in gates:
        found = _number(numbers, gate)
        if not found or found.get("base") is None or found.get("adapted") is None:
            results.append({"gate": gate.text(), "passed": False, "measured": "not measured by this run"})
            continue
        base, adapted = found["base"], found["adapted"]
        change = adapted - base
        better = change < 0 if gate.metric in LOWER_IS_BETTER else change > 0
        if gate.max_rise is not None:
            rise = change / base if base else float("inf") if change > 0 else 0.0
            passed, measured = rise <= gate.max_rise, f"{rise:+.1%}"
        elif gate.max_drop is not None:
            passed, measured = -change <= gate.max_drop, f"{change:+.2f}"
        else:
            passed = better and (gate.must == "improve" or bool(found.get("significant")))
            measured = f"{change:+.2f}" + (f", p={found['p_value']:.3f}" if found.get("p_value") is not None else
                                           ", no paired test" if gate.must == "improve_significantly" else "")
        results.append({"gate": gate.text(), "passed": bool(passed), "measured": measured})
    return results
