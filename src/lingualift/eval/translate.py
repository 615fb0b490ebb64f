"""`lingualift eval translate`: translate test sets in many directions and score them.

All inputs are read and checked before the model loads or anything is written, so bad input
leaves no results behind. Each finished direction is written atomically with a fingerprint
of everything that made it; a re-run skips directions whose fingerprint still matches.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path

from lingualift.core.fingerprint import digest, text_digest
from lingualift.core.io import InputError, read_lines, write_json, write_lines
from lingualift.core.progress import ProgressFactory, bar
from lingualift.core.provenance import provenance
from lingualift.corpora import sources
from lingualift.eval import translation_report as report
from lingualift.eval.config import TranslateSettings
from lingualift.inference.generate import GenerationParams, Generator, load_generator
from lingualift.inference.prompts import CHAT_USER, Example, get_template, select_examples
from lingualift.lang import langid
from lingualift.metrics import DEFAULT_METRICS, Options, check_names, score_all
from lingualift.metrics import significance as sig
from lingualift.quality import decoding


def _fingerprint(model: str, s: TranslateSettings, metrics, template_source: str, src: sources.Side,
                 ref: sources.Side) -> str:
    """Everything that changes a direction's numbers; the model spec is taken as named."""
    from lingualift import __version__

    payload = {"model": model, "template": template_source, "shots": s.shots,
               "selection": s.shot_selection, "generation": s.generation().as_dict(),
               "metrics": list(metrics), "spm": s.spm_model, "version": __version__,
               "src": text_digest(src.lines), "ref": text_digest(ref.lines)}
    return digest(payload)


@dataclass
class _Job:
    src: str
    tgt: str
    source: sources.Side
    reference: sources.Side
    pool: list[Example]
    folder: Path
    fingerprint: str = ""
    source_digest: str = ""

    def cached(self) -> dict | None:
        path = self.folder / "scores.json"
        if path.is_file():
            record = json.loads(path.read_text("utf-8"))
            if record.get("fingerprint") == self.fingerprint:
                return record
        return None


def _plan(model: str, data: str, out: str, s: TranslateSettings, metrics, template_source: str,
          needs_pool: bool) -> list[_Job]:
    jobs = []
    for src, tgt in sources.parse_directions(s.directions, s.langs):
        source, reference = sources.load_pair(data, src, tgt, s.split, s.limit, s.offset)
        pool: list[Example] = []
        if needs_pool:
            # Shots come from the dev split: the test sentences themselves are excluded by
            # select_examples, and devtest results stay clean of devtest text.
            pool_src, pool_tgt = sources.load_pair(data, src, tgt, "dev", None)
            pool = [Example(a, b) for a, b in zip(pool_src.lines, pool_tgt.lines)]
        job = _Job(src, tgt, source, reference, pool, Path(out) / "directions" / f"{src}-{tgt}")
        job.fingerprint = _fingerprint(model, s, metrics, template_source, source, reference)
        job.source_digest = text_digest(source.lines)
        jobs.append(job)
    return jobs


def _translate(job: _Job, s: TranslateSettings, metrics, generator: Generator, template, progress) -> dict:
    prompts = [template.render(text, job.src, job.tgt, select_examples(text, job.pool, s.shots, s.shot_selection,
                                                                       s.seed))
               for text in job.source.lines]
    params = GenerationParams(**{**s.generation().as_dict(), "stop": template.stop})
    before = asdict(generator.stats)
    started = time.perf_counter()
    hyps, chosen_by = decoding.translate(generator, prompts, list(job.source.lines), job.src, job.tgt, params,
                                         lambda out: template.extract(out, job.tgt), progress)
    scores = score_all(hyps, list(job.reference.lines), job.tgt, list(job.source.lines), metrics,
                       Options(spm_model=s.spm_model))
    seconds = time.perf_counter() - started
    new_tokens = generator.stats.new_tokens - before["new_tokens"]
    record = {
        "direction": f"{job.src}-{job.tgt}", "src": job.src, "tgt": job.tgt, "n": len(hyps),
        "fingerprint": job.fingerprint, "source_file": job.source.origin, "source_digest": job.source_digest,
        "decoding": chosen_by,
        "reference_file": job.reference.origin,
        "scores": {name: sc.as_dict() for name, sc in scores.items()},
        "generation": {"seconds": round(seconds, 3), "new_tokens": new_tokens,
                       "lines_per_s": round(len(hyps) / seconds, 3) if seconds else None,
                       "tokens_per_s": round(new_tokens / seconds, 3) if seconds else None},
        # how these hypotheses were made, kept with them: a cached re-run reports this, not itself
        "made_by": {"engine": generator.engine, **provenance()},
    }
    write_lines(job.folder / "hyp.txt", hyps)
    if scores.get("comet") and scores["comet"].segments:  # what a later --compare bootstraps
        write_lines(job.folder / "comet_segments.txt", [repr(x) for x in scores["comet"].segments])
    write_lines(job.folder / "prompt_example.txt", [json.dumps(prompts[0], ensure_ascii=False)] if prompts else [])
    write_json(job.folder / "scores.json", record)  # last: its presence marks the direction done
    return record


def run(settings: TranslateSettings, *, model: str, data: str, out: str, compare: str | None = None,
        progress: ProgressFactory | None = None) -> dict:
    """Evaluate all directions; returns the results document also written to results.json."""
    s = settings
    metrics = check_names(s.metrics) if s.metrics else DEFAULT_METRICS
    if compare and not (Path(compare) / "results.json").is_file():
        raise InputError("--compare needs a folder with results.json from an earlier run", compare)
    template = get_template(s.template) if s.template != "chat" else None
    wants_examples = template is not None and template.needs_examples
    needs_pool = s.shots > 0 or wants_examples
    if wants_examples and s.shots <= 0:
        raise InputError(f"template {s.template} uses examples: it needs --shots K (K >= 1)")
    jobs = _plan(model, data, out, s, metrics, template.source if template else "chat", needs_pool)
    previous = json.loads((Path(compare) / "results.json").read_text("utf-8")) if compare else None
    if previous:
        _same_lines(jobs, previous, Path(compare), s.offset)
    todo = [job for job in jobs if job.cached() is None]
    if todo:
        from lingualift.inference import mt

        mt.check(model, [(job.src, job.tgt) for job in todo])
    generator = load_generator(model, s.engine, s.dtype) if todo else None
    if template is None and generator is not None:  # chat renders with the tokenizer, loaded only for work left
        template = get_template("chat", generator.tokenizer)
    records = []
    with bar(progress, "translating", sum(len(j.source.lines) for j in todo)) as advance:
        for job in jobs:
            record = job.cached()
            if record is None:
                record = _translate(job, s, metrics, generator, template, advance)
            record.setdefault("source_digest", job.source_digest)  # older scores.json lack it
            records.append(record)
    results = {
        "meta": {
            "model": model, "data": data, "split": s.split, "limit": s.limit, "offset": s.offset,
            "template": {"name": template.name, "source": template.source} if template else
                        {"name": "chat", "source": CHAT_USER},
            "shots": s.shots, "shot_selection": s.shot_selection if needs_pool else None,
            "decoding": s.generation().as_dict(),
            "engine": ", ".join(sorted({r.get("made_by", {}).get("engine", "unknown") for r in records})),
            "cached_directions": len(jobs) - len(todo),
            "settings": s.model_dump(), "signatures": _signatures(records),
            "generation": generator.stats.as_dict() if generator else None, **provenance(),
        },
        "directions": records,
    }
    tests = _significance(jobs, records, previous, Path(compare), s, metrics) if previous else None
    report.write_all(Path(out), results, previous, tests)
    return results


def _same_lines(jobs: list[_Job], previous: dict, folder: Path, offset: int) -> None:
    """A paired test pairs segments: refuse, before anything runs, a baseline made from other
    lines (by their digest; results written before it was recorded: by file, offset and count)."""
    before = {r["direction"]: r for r in previous["directions"]}
    for job in jobs:
        old = before.get(f"{job.src}-{job.tgt}")
        if "source_digest" in (old or {}):
            same = old["source_digest"] == job.source_digest
        else:
            same = old is None or (old.get("source_file") == job.source.origin
                                   and previous["meta"].get("offset", 0) == offset)
        if old and (not same or old["n"] != len(job.source.lines)):
            raise InputError(f"{job.src}-{job.tgt} there was translated from other source lines ({old['n']} lines "
                             f"of {old.get('source_file')}, here {len(job.source.lines)} of {job.source.origin}); "
                             "compare runs on the same lines (--split, --limit, --offset)", folder / "results.json")
        if old and not (folder / "directions" / old["direction"] / "hyp.txt").is_file():
            raise InputError("missing: --compare needs each direction's hyp.txt",
                             folder / "directions" / old["direction"] / "hyp.txt")


def _significance(jobs: list[_Job], records: list[dict], previous: dict, folder: Path, s: TranslateSettings,
                  metrics) -> dict[str, dict[str, dict]]:
    """Paired tests of each direction both runs have, on the same source lines: the baseline's
    hyp.txt against this run's, both scored on this run's references. chrF++ and BLEU always,
    spBLEU and TER when this run measures them; COMET and the off-target rate by a paired
    bootstrap over lines when measured. Kept per direction in significance.json,
    keyed by everything that makes the numbers, so a re-run of the report recomputes nothing."""
    before = {r["direction"]: r for r in previous["directions"]}
    names = [m for m in sig.CORPUS_METRICS if m in ("chrf++", "bleu") or m in metrics]
    out = {}
    for job, record in zip(jobs, records):
        old = before.get(record["direction"])
        if old is None:
            continue
        baseline_file = folder / "directions" / record["direction"] / "hyp.txt"
        baseline, system = read_lines(baseline_file, allow_empty=True), read_lines(job.folder / "hyp.txt",
                                                                                  allow_empty=True)
        if len(baseline) != record["n"]:
            raise InputError(f"has {len(baseline)} lines, expected {record['n']}", baseline_file)
        refs = list(job.reference.lines)
        missing = {m: record["scores"][m]["unavailable"] for m in names
                   if m in record["scores"] and record["scores"][m].get("score") is None}
        tested = [m for m in names if m not in missing]
        key = digest({"baseline": text_digest(baseline), "system": text_digest(system), "refs": text_digest(refs),
                      "metrics": tested, "test": s.paired_test, "seed": sig.seed(), "spm": s.spm_model,
                      "sacrebleu": version("sacrebleu")})
        cache = job.folder / "significance.json"
        cached = json.loads(cache.read_text("utf-8")) if cache.is_file() else {}
        if cached.get("key") != key:
            options = Options(spm_model=s.spm_model)
            tests = {m: sig.corpus_test(m, baseline, system, refs, job.tgt, s.paired_test, options=options).as_dict()
                     for m in tested}
            cached = {"key": key, "against": str(baseline_file), "tests": tests}
            write_json(cache, cached)
        out[record["direction"]] = {m: cached["tests"].get(m) or {"metric": m, "test": s.paired_test,
                                                                    "unavailable": missing.get(m)} for m in names}
        comet = [folder / "directions" / record["direction"] / "comet_segments.txt", job.folder / "comet_segments.txt"]
        if "comet" in metrics and all(path.is_file() for path in comet):
            a, b = ([float(x) for x in read_lines(path)] for path in comet)
            if len(a) == len(b) == record["n"]:
                out[record["direction"]]["comet"] = sig.segment_test("comet", a, b).as_dict()
        if "off_target" in metrics:
            # a rate of per-line verdicts (metrics/off_target's rule): bootstrapped over lines like COMET
            flags = ([float(langid.is_off_target(h, job.tgt)) for h in hyps] for hyps in (baseline, system))
            out[record["direction"]]["off_target"] = sig.segment_test("off_target", *flags, scale=100.0).as_dict()
    return out


def _signatures(records: list[dict]) -> dict:
    """One signature per metric (they differ per direction only by the BLEU tokenizer)."""
    found: dict[str, set] = {}
    for record in records:
        for name, score in record["scores"].items():
            if score.get("signature"):
                found.setdefault(name, set()).add(score["signature"])
    return {name: sorted(sigs) for name, sigs in found.items()}
