"""Hugging Face model cards: every model lingualift writes says what it is and how it scored.

`write(folder, ...)` puts a `README.md` in the model folder whose YAML header the hub reads:
`base_model`, `language` (ISO codes of the registry languages), `datasets`, tags, and the
evaluation results in the hub's `model-index` form, each with its sacrebleu signature and,
where a comparison was made, its paired-bootstrap 95% CI in the description. The body names
the stage, the command and the recipe that made the model. `add_results` merges results in
later (the run's eval stage scores the model after training wrote its card).
"""

from __future__ import annotations

from pathlib import Path

from lingualift.lang import languages


def _iso(code: str) -> str:
    lang = languages.get(code)
    return lang.iso639_1 or lang.iso639_3


def _hub_id(spec: str | None) -> str | None:
    """A base model the hub can link: an owner/name id, not a local path or preset."""
    return spec if spec and spec.count("/") == 1 and not Path(spec).exists() else None


def write(folder: str | Path, *, stage: str, base_model: str | None, langs: list[str], datasets: list[str] = (),
          results: list[dict] | None = None, about: str = "", name: str | None = None) -> Path:
    """Write (or replace) FOLDER/README.md; `results` items: {metric, value, dataset, direction, signature, ci}."""
    from huggingface_hub import ModelCard, ModelCardData

    from lingualift.core.provenance import provenance

    folder = Path(folder)
    inherited = _languages_of(base_model)  # a model made from a lingualift model keeps its languages
    data = ModelCardData(
        base_model=_hub_id(base_model), language=sorted({_iso(c) for c in langs} | inherited) or None,
        datasets=[d for d in datasets if d] or None, library_name="transformers",
        tags=["lingualift", stage, "translation"], model_name=name or folder.name,
        eval_results=_eval_results(results or []) or None)
    made = provenance()
    body = (f"# {name or folder.name}\n\nMade by lingualift's `{stage}` stage from `{base_model}` for "
            f"{', '.join(langs) or 'no language in particular'}.\n\n{about}\n\n"
            f"Command: `{made['command']}`\n\nVersions: `{made['versions']}`\n")
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}")
    (folder / "README.md").write_text(str(card), encoding="utf-8")
    return folder / "README.md"


def _languages_of(spec: str | None) -> set[str]:
    from huggingface_hub import ModelCard

    path = Path(spec or "") / "README.md"
    if not spec or not path.is_file():
        return set()
    try:
        return set(ModelCard.load(path).data.language or [])
    except (ValueError, OSError):  # not a card lingualift can read: nothing to inherit
        return set()


def _eval_results(results: list[dict]):
    from huggingface_hub import EvalResult

    out = []
    for r in results:
        ci = f", 95% CI of the change {r['ci']}" if r.get("ci") else ""
        out.append(EvalResult(task_type="translation", task_name=f"translation {r['direction']}",
                              dataset_type=r.get("dataset_type", "flores"), dataset_name=r["dataset"],
                              dataset_config=r["direction"], metric_type=r["metric"], metric_value=r["value"],
                              metric_name=f"{r['metric']} ({r.get('signature') or 'no signature'}{ci})"))
    return out


def results_of(evaluation: dict) -> list[dict]:
    """Card results from an `eval translate` results.json (with its comparison, when there is one)."""
    cis = {}
    for direction, tests in ((evaluation.get("comparison") or {}).get("significance") or {}).items():
        for metric, test in tests.items():
            if isinstance(test, dict) and test.get("ci"):
                cis[(direction, metric)] = f"[{test['ci'][0]:+.2f}, {test['ci'][1]:+.2f}], p={test['p_value']:.3f}"
    out = []
    for d in evaluation.get("directions", []):
        for metric, score in d["scores"].items():
            if score.get("score") is not None and metric in ("chrf++", "bleu", "spbleu_flores200", "spbleu_flores101"):
                out.append({"metric": metric, "value": round(score["score"], 2), "direction": d["direction"],
                            "dataset": evaluation.get("meta", {}).get("data", ""), "signature": score.get("signature"),
                            "ci": cis.get((d["direction"], metric))})
    return out


def add_results(folder: str | Path, results: list[dict]) -> None:
    """Merge evaluation results into an existing card (keeping what it says)."""
    from huggingface_hub import ModelCard

    path = Path(folder) / "README.md"
    if not path.is_file() or not results:
        return
    card = ModelCard.load(path)
    card.data.eval_results = (card.data.eval_results or []) + _eval_results(results)
    if not card.data.model_name:
        card.data.model_name = Path(folder).name
    path.write_text(str(card), encoding="utf-8")
