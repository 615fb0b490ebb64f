"""`lingualift train merge`: merge the adapted model with its base (and an instruct model) at
several weights through mergekit, and keep the weight that scores best on held-out dev lines.

    lingualift train merge --model runs/demo/sft/model --base smollm2-135m --method linear \\
        --weights 0.25,0.5,0.75,1 --data flores:../shared/data/flores200 --langs sw --out runs/merge

Methods (w is the weight tried):
- `task_arithmetic`, the chat vector (Huang et al. 2024, arXiv 2310.04799): adapted + w *
  (instruct - base) gives a model adapted on raw text back the instruction following that the
  instruct model learned on the same base;
- `ties` (Yadav et al. 2023): base + w * (adapted - base) with only the largest `density`
  share of that difference kept;
- `linear`: (1 - w) * base + w * adapted, which trades new-language skill against what the
  base knew (forgetting).

OUT/model is the chosen merge (with the adapted model's tokenizer, a model card and its
mergekit_config.yml); OUT/merge.json holds every weight's score, the chosen one, its mergekit
configuration and provenance. While it runs, OUT/candidates holds each weight's score and the
weights of the best candidate so far only (one model's disk, not one per weight); `--resume`
rescores nothing already scored.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from lingualift.core.fingerprint import digest
from lingualift.core.io import InputError, check_output, write_json, write_text
from lingualift.core.progress import ProgressFactory, bar
from lingualift.core.provenance import provenance
from lingualift.train import merge_dev, merge_models
from lingualift.train.merge_config import MergeSettings


def run(settings: MergeSettings, *, model: str, data: str, out: str | Path, resume: bool = False,
        overwrite: bool = False, progress: ProgressFactory | None = None,
        log: Callable[[str], None] = lambda message: None) -> dict:
    """Merge at every weight, score each on the dev lines, keep the best in OUT/model; returns merge.json."""
    from transformers import AutoTokenizer

    from lingualift.lang.languages import resolve_many

    s, out = settings, Path(out)
    _check_settings(s)
    langs = resolve_many(s.langs)
    if not langs:
        raise InputError("--langs is required (the languages the merge weight is chosen on)")
    models = merge_models.check(_directory(s.base), _directory(model), _directory(s.instruct) if s.instruct else None)
    dev = merge_dev.load(s, data, langs)
    merge_dev.check_template(s, AutoTokenizer.from_pretrained(models.adapted))
    candidates = _prepare(out, resume, overwrite)
    weights = list(dict.fromkeys(s.weights))
    common = {"settings": s.model_dump(exclude={"weights"}), "langs": langs, "data": data,
              "models": [str(models.base), str(models.adapted), str(models.instruct)],
              "mergekit": metadata.version("mergekit")}
    files = [p for p in (models.base, models.adapted, models.instruct) if p is not None]
    scores: dict[float, dict] = {}
    with bar(progress, "merge candidates", dev.lines() * len(weights)) as advance:
        for weight in weights:
            fingerprint = digest({**common, "weight": weight}, files)
            record = _cached(candidates / f"{_name(weight)}.json", fingerprint) if resume else None
            if record is None:
                folder = candidates / _name(weight)
                _merge(s, weight, models, folder)
                record = {"weight": weight, **merge_dev.score(dev, folder, s, advance), "fingerprint": fingerprint}
                write_json(candidates / f"{_name(weight)}.json", record)
            else:
                advance(dev.lines())
            scores[weight] = record
            log(f"merge w={weight:g}: {s.metric} {record['score']:.3f}")
            best = dev.best({w: r["score"] for w, r in scores.items()})
            for other in scores:  # only the best so far keeps its weights
                if other != best:
                    shutil.rmtree(candidates / _name(other), ignore_errors=True)
    return _finish(s, models, out, candidates, best, scores, data, langs, model)


def _check_settings(s: MergeSettings) -> None:
    if not s.base:
        raise InputError("--base is required (the model the adapted one was trained from)")
    if s.method == "task_arithmetic" and not s.instruct:
        raise InputError("--instruct is required by task_arithmetic (the instruction-tuned model whose difference "
                         "from --base is added)")
    if s.method != "task_arithmetic" and s.instruct:
        raise InputError(f"--instruct is used only by task_arithmetic, not by {s.method}")
    try:
        import mergekit  # noqa: F401
    except ImportError:
        raise InputError("train merge needs mergekit: pip install 'mergekit>=0.1.5'") from None


def _directory(spec: str) -> Path:
    from lingualift.inference.models import resolve_spec

    directory, gguf = resolve_spec(spec)
    if gguf:
        raise InputError("merge Hugging Face model folders, not a GGUF file (`lingualift models fetch` converts "
                         "presets)", directory / gguf)
    return directory


def _prepare(out: Path, resume: bool, overwrite: bool) -> Path:
    """OUT made ready before any merge: a finished merge is kept unless --overwrite, an
    unfinished one continued only with --resume (its half-moved model removed)."""
    check_output(out, "folder")
    candidates = out / "candidates"
    if overwrite:
        shutil.rmtree(out, ignore_errors=True)
    elif (out / "merge.json").is_file():
        raise InputError("merge output already has a merged model (pass --overwrite to merge again)", out / "model")
    elif candidates.exists() and not resume:
        raise InputError("merge output has an unfinished merge: pass --resume to continue, --overwrite to start "
                         "over", candidates)
    shutil.rmtree(out / "model", ignore_errors=True)  # no merge.json: not the finished merge
    candidates.mkdir(parents=True, exist_ok=True)
    return candidates


def _name(weight: float) -> str:
    return f"w{weight:g}"


def _cached(path: Path, fingerprint: str) -> dict | None:
    import json

    if not path.is_file():
        return None
    record = json.loads(path.read_text(encoding="utf-8"))
    return record if record.get("fingerprint") == fingerprint else None


def _merge(s: MergeSettings, weight: float, models: merge_models.Models, folder: Path) -> None:
    config = merge_models.configuration(s.method, weight, models, s.density, s.dtype)
    shutil.rmtree(folder, ignore_errors=True)
    merge_models.merge(config, models, folder, s.dtype)


def _finish(s: MergeSettings, models: merge_models.Models, out: Path, candidates: Path, best: float,
            scores: dict[float, dict], data: str, langs: list[str], adapted: str) -> dict:
    """The best candidate becomes OUT/model with its card and mergekit config; merge.json last."""
    from lingualift.inference import modelcard

    folder = candidates / _name(best)
    config = merge_models.configuration(s.method, best, models, s.density, s.dtype)
    if not (folder / "config.json").is_file():  # a resumed run whose best was merged by an earlier weight list
        _merge(s, best, models, folder)
    config_yaml = config.to_yaml()
    write_text(folder / "mergekit_config.yml", config_yaml + "\n")
    higher = s.metric != "ppl"
    modelcard.write(folder, stage="merge", base_model=adapted, langs=langs, name=out.name, about=(
        f"A `{s.method}` merge of `{adapted}` with base `{s.base}`"
        f"{f' and instruct model `{s.instruct}`' if s.instruct else ''} at weight {best:g}, chosen among "
        f"{', '.join(f'{w:g}' for w in scores)} by {s.metric} ({'higher' if higher else 'lower'} is better) on "
        f"FLORES dev lines {s.dev_lines} of {data}."))
    shutil.rmtree(out / "model", ignore_errors=True)
    folder.replace(out / "model")
    info = {
        "method": s.method, "metric": s.metric, "higher_is_better": higher,
        "dev": {"data": data, "lines": s.dev_lines, "langs": langs},
        "scores": [{k: v for k, v in r.items() if k != "fingerprint"} for r in scores.values()],
        "chosen": {"weight": best, "score": scores[best]["score"]},
        "models": {"adapted": adapted, "base": s.base, "instruct": s.instruct},
        "vocab": {"shared_rows": models.shared, "new_rows_from": "adapted" if models.shared is not None else None},
        "mergekit_config": config_yaml, "settings": s.model_dump(), "model": str(out / "model"),
        **provenance(), "mergekit_version": metadata.version("mergekit"),
    }
    write_json(out / "merge.json", info)
    shutil.rmtree(candidates, ignore_errors=True)
    return info
