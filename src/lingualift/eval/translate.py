"""`lingualift eval translate`: translate test sets in many directions and score them.

All inputs are read and checked before the model loads or anything is written, so bad input
leaves no results behind. Each finished direction is written atomically with a fingerprint
of everything that made it; a re-run skips directions whose fingerprint still matches.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lingualift import __version__
from lingualift.eval import report, sources
from lingualift.eval.metrics import DEFAULT_METRICS, METRICS, Options, score_all
from lingualift.generate import GenerationParams, Generator, load_generator
from lingualift.io import InputError, write_json, write_lines
from lingualift.prompts import Example, get_template, select_examples


@dataclass
class TranslateConfig:
    model: str
    data: str
    directions: list[tuple[str, str]]
    out: str
    split: str = "dev"
    limit: int | None = None
    offset: int = 0  # first line evaluated
    template: str = "llamax-alpaca"
    shots: int = 0
    shot_selection: str = "random"
    metrics: tuple[str, ...] = DEFAULT_METRICS
    spm_model: str | None = None
    engine: str = "auto"
    dtype: str = "auto"
    compare: str | None = None
    generation: GenerationParams = field(default_factory=GenerationParams)


def versions() -> dict:
    import sacrebleu
    import torch
    import transformers

    return {"lingualift": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "sacrebleu": sacrebleu.__version__}


def _fingerprint(cfg: TranslateConfig, template_source: str, src: sources.Side, ref: sources.Side) -> str:
    """Everything that changes a direction's numbers; the model spec is taken as named."""
    payload = {"model": cfg.model, "template": template_source, "shots": cfg.shots,
               "selection": cfg.shot_selection, "generation": cfg.generation.as_dict(),
               "metrics": list(cfg.metrics), "spm": cfg.spm_model, "version": __version__,
               "src": hashlib.sha256("\n".join(src.lines).encode()).hexdigest(),
               "ref": hashlib.sha256("\n".join(ref.lines).encode()).hexdigest()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class _Job:
    src: str
    tgt: str
    source: sources.Side
    reference: sources.Side
    pool: list[Example]
    folder: Path
    fingerprint: str = ""

    def cached(self) -> dict | None:
        path = self.folder / "scores.json"
        if path.is_file():
            record = json.loads(path.read_text("utf-8"))
            if record.get("fingerprint") == self.fingerprint:
                return record
        return None


def _plan(cfg: TranslateConfig, template_source: str, needs_pool: bool) -> list[_Job]:
    unknown = [m for m in cfg.metrics if m not in METRICS]
    if unknown:
        raise InputError(f"unknown metric(s) {', '.join(unknown)}; known: {', '.join(METRICS)}")
    if cfg.compare and not (Path(cfg.compare) / "results.json").is_file():
        raise InputError("--compare needs a folder with results.json from an earlier run", cfg.compare)
    jobs = []
    for src, tgt in cfg.directions:
        source, reference = sources.load_pair(cfg.data, src, tgt, cfg.split, cfg.limit, cfg.offset)
        pool: list[Example] = []
        if needs_pool:
            # Shots come from the dev split: the test sentences themselves are excluded by
            # select_examples, and devtest results stay clean of devtest text.
            pool_src, pool_tgt = sources.load_pair(cfg.data, src, tgt, "dev", None)
            pool = [Example(s, t) for s, t in zip(pool_src.lines, pool_tgt.lines)]
        job = _Job(src, tgt, source, reference, pool, Path(cfg.out) / "directions" / f"{src}-{tgt}")
        job.fingerprint = _fingerprint(cfg, template_source, source, reference)
        jobs.append(job)
    return jobs


def _translate(job: _Job, cfg: TranslateConfig, generator: Generator, template, progress) -> dict:
    prompts = [template.render(text, job.src, job.tgt,
                               select_examples(text, job.pool, cfg.shots, cfg.shot_selection, cfg.generation.seed))
               for text in job.source.lines]
    params = GenerationParams(**{**cfg.generation.as_dict(), "stop": template.stop})
    before = asdict(generator.stats)
    started = time.perf_counter()
    raw = generator.generate(prompts, params, progress=progress)
    hyps = [template.extract(out, job.tgt) for out in raw]
    scores = score_all(hyps, list(job.reference.lines), job.tgt, list(job.source.lines), cfg.metrics,
                       Options(spm_model=cfg.spm_model))
    seconds = time.perf_counter() - started
    new_tokens = generator.stats.new_tokens - before["new_tokens"]
    record = {
        "direction": f"{job.src}-{job.tgt}", "src": job.src, "tgt": job.tgt, "n": len(hyps),
        "fingerprint": job.fingerprint, "source_file": job.source.origin,
        "reference_file": job.reference.origin,
        "scores": {name: s.as_dict() for name, s in scores.items()},
        "generation": {"seconds": round(seconds, 3), "new_tokens": new_tokens,
                       "lines_per_s": round(len(hyps) / seconds, 3) if seconds else None,
                       "tokens_per_s": round(new_tokens / seconds, 3) if seconds else None},
    }
    write_lines(job.folder / "hyp.txt", hyps)
    write_lines(job.folder / "prompt_example.txt", [json.dumps(prompts[0], ensure_ascii=False)] if prompts else [])
    write_json(job.folder / "scores.json", record)  # last: its presence marks the direction done
    return record


def run(cfg: TranslateConfig, console=None, command: str | None = None) -> dict:
    """Evaluate all directions; returns the results document also written to results.json."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    template = get_template(cfg.template) if cfg.template != "chat" else None
    wants_examples = template is not None and template.needs_examples
    needs_pool = cfg.shots > 0 or wants_examples
    if wants_examples and cfg.shots <= 0:
        raise InputError(f"template {cfg.template} uses examples: it needs --shots K (K >= 1)")
    jobs = _plan(cfg, template.source if template else "chat", needs_pool)
    todo = [job for job in jobs if job.cached() is None]
    generator = load_generator(cfg.model, cfg.engine, cfg.dtype) if todo else None
    if template is None:
        template = get_template("chat", generator.tokenizer if generator else None)
    records = []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=console, disable=console is None) as bar:
        task = bar.add_task("translating", total=sum(len(j.source.lines) for j in todo))
        for job in jobs:
            record = job.cached()
            if record is None:
                bar.update(task, description=f"{job.src}->{job.tgt}")
                record = _translate(job, cfg, generator, template, lambda n: bar.advance(task, n))
            records.append(record)
    results = {
        "meta": {
            "model": cfg.model, "data": cfg.data, "split": cfg.split, "limit": cfg.limit, "offset": cfg.offset,
            "template": {"name": template.name, "source": template.source},
            "shots": cfg.shots, "shot_selection": cfg.shot_selection if needs_pool else None,
            "decoding": cfg.generation.as_dict(), "engine": generator.engine if generator else "cached",
            "signatures": _signatures(records), "versions": versions(),
            "command": command or " ".join(sys.argv),
            "generation": generator.stats.as_dict() if generator else None,
        },
        "directions": records,
    }
    previous = json.loads((Path(cfg.compare) / "results.json").read_text("utf-8")) if cfg.compare else None
    report.write_all(Path(cfg.out), results, previous)
    return results


def _signatures(records: list[dict]) -> dict:
    """One signature per metric (they differ per direction only by the BLEU tokenizer)."""
    found: dict[str, set] = {}
    for record in records:
        for name, score in record["scores"].items():
            if score.get("signature"):
                found.setdefault(name, set()).add(score["signature"])
    return {name: sorted(sigs) for name, sigs in found.items()}
