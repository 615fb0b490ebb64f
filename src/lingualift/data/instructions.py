"""Instruction data from the data at hand: LLaMAX translation instructions and Tower-style
translation-workflow tasks, plus Alpaca files as they are.

    lingualift data sft --config recipes/sft-data-tiny.yaml --out runs/sft-tiny.jsonl

Every example is a DESIGN.md instruction record (`messages`) that also keeps `instruction`
and `input` (so LLaMAX's Alpaca prompt can render it), `task`, and the languages. Tasks:
- translation: one sentence pair, both directions, LLaMAX's instruction or a varied phrasing;
- document: 3-5 consecutive pairs joined into one document (consecutive lines of a parallel
  corpus are consecutive text in FLORES and most document-aligned corpora);
- terminology: the pair's dictionary terms to respect, named in the instruction;
- post_edit: a degraded translation as the draft to repair (Tower's APE task);
- paraphrase: two targets of one source (Tatoeba has several translations per sentence);
- few_shot: k other pairs of the direction as examples before the sentence.

Every text is cleaned as `data build` cleans (`data.clean.normalise`: NFC, bidi overrides,
BOM and other format characters dropped, NUL and other control characters made spaces)
but keeps its line breaks and tabs, which instructions and code answers need.
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from pathlib import Path
from typing import Optional

from pydantic import Field

from lingualift.core.config import CommaList, StrictModel
from lingualift.core.io import InputError, atomic_path, check_output
from lingualift.core.records import instruction
from lingualift.data.clean import normalise
from lingualift.data.config import Source, hub_spec
from lingualift.data.parallel import by_direction, degrade, language_names, read_pairs
from lingualift.data.readers import taken_whole
from lingualift.inference.prompts import LLAMAX_INSTRUCTION
from lingualift.lang.languages import english_name

TASKS = ("translation", "document", "terminology", "post_edit", "paraphrase", "few_shot")
# Varied phrasings keep a model from keying on one instruction string (Tower, Aya).
PHRASINGS = (
    "Translate the following text from {src} into {tgt}.",
    "What is the {tgt} translation of this {src} text?",
    "Render this {src} sentence in {tgt}.",
    "Please translate from {src} to {tgt}:",
    "Give a faithful {tgt} translation of the {src} text below.",
)


class InstructionConfig(StrictModel):
    sources: list[Source] = Field(default_factory=list, description="parallel data, as in `data build`")
    alpaca: CommaList = Field(default_factory=list, description="instruction files (JSON/JSONL) or hub datasets "
                                                                "(hf:NAME[:SPLIT], streamed), taken whole")
    tasks: dict[str, int] = Field(default_factory=lambda: {"translation": 1000},
                                  description=f"task -> examples; tasks: {', '.join(TASKS)}")
    both_directions: bool = Field(True, description="each pair in both directions")
    varied_phrasings: float = Field(0.5, ge=0, le=1, description="share of translation examples with a phrasing "
                                                                 "other than LLaMAX's")
    dictionary: Optional[str] = Field(None, description="for terminology: muse:/tsv:/wechsel:/dictd:/panlex: spec")
    shots: int = Field(2, ge=1, description="examples in each few_shot task")
    seed: int = Field(0, description="seed of sampling and shuffling")

    def hub_datasets(self) -> list[tuple[str, Optional[str]]]:
        """(dataset, config) streamed from the hub: hf sources and hf: instruction sets."""
        hub = [(spec[0], None) for spec in map(hub_spec, self.alpaca) if spec]
        return [d for source in self.sources for d in source.hub_datasets()] + hub


def _record(task: str, instruction: str, given: str, answer: str, src: str, tgt: str) -> dict:
    return {"messages": [{"role": "user", "content": f"{instruction}\n\n{given}"},
                         {"role": "assistant", "content": answer}],
            "instruction": instruction, "input": given, "task": task, "src_lang": src, "tgt_lang": tgt}


def _translation(directions, cfg, rng, n):
    items = [(d, pair) for d, pairs in directions.items() for pair in pairs]
    rng.shuffle(items)
    for (src, tgt), (a, b) in items[:n]:
        fmt = rng.choice(PHRASINGS) if rng.random() < cfg.varied_phrasings else LLAMAX_INSTRUCTION
        yield _record("translation", fmt.format(**language_names(src, tgt)), a, b, src, tgt)


def _document(directions, cfg, rng, n):
    starts = [(d, i) for d, pairs in directions.items() for i in range(0, max(len(pairs) - 2, 0))]
    rng.shuffle(starts)
    for (src, tgt), i in starts[:n]:
        chunk = directions[src, tgt][i:i + rng.randint(3, 5)]
        yield _record("document", "Translate the following document from {src} into {tgt}, keeping its "
                      "sentences in order.".format(**language_names(src, tgt)),
                      " ".join(a for a, _ in chunk), " ".join(b for _, b in chunk), src, tgt)


def _terminology(directions, cfg, rng, n):
    import regex

    from lingualift.data import dictionaries

    if not cfg.dictionary:
        raise InputError("the terminology task needs `dictionary:` in the config")
    made = 0
    tables: dict[tuple[str, str], dict] = {}
    items = [(d, pair) for d, pairs in directions.items() for pair in pairs]
    rng.shuffle(items)
    for (src, tgt), (a, b) in items:
        if made == n:
            return
        if (src, tgt) not in tables:  # dictionaries go English -> X; X -> English is the inverse
            table = dictionaries.load(cfg.dictionary, tgt if src == "eng_Latn" else src)
            tables[src, tgt] = table if src == "eng_Latn" else dictionaries.invert(table)
        words = regex.findall(r"\w+", a.casefold())
        target = b.casefold()
        terms = [(w, t) for w in dict.fromkeys(words) for t in tables[src, tgt].get(w, [])[:1]
                 if len(w) > 3 and regex.search(rf"\b{regex.escape(t.casefold())}\b", target)]
        if terms:
            glossary = "; ".join(f"{w} = {t}" for w, t in terms[:3])
            made += 1
            yield _record("terminology", "Translate the following text from {src} into {tgt}, using these "
                          "terms: ".format(**language_names(src, tgt)) + glossary + ".", a, b, src, tgt)


def _post_edit(directions, cfg, rng, n):
    items = [(d, pair) for d, pairs in directions.items() for pair in pairs]
    rng.shuffle(items)
    for (src, tgt), (a, b) in items[:n]:
        names = language_names(src, tgt)
        given = f"{names['src']}: {a}\n{names['tgt']} draft: {degrade(b, rng)}"
        yield _record("post_edit", "Correct the errors in the draft {tgt} translation of the {src} "
                      "text. Reply with the corrected translation.".format(**names), given, b, src, tgt)


def _paraphrase(directions, cfg, rng, n):
    made = 0
    for (_src, tgt), pairs in directions.items():
        by_source: dict[str, list[str]] = defaultdict(list)
        for a, b in pairs:
            if b not in by_source[a]:
                by_source[a].append(b)
        for targets in by_source.values():
            for x, y in zip(targets, targets[1:]):
                if made == n:
                    return
                made += 1
                yield _record("paraphrase", f"Paraphrase this {english_name(tgt)} sentence.", x, y, tgt, tgt)


def _few_shot(directions, cfg, rng, n):
    keys = [d for d, pairs in directions.items() if len(pairs) > cfg.shots]
    for _ in range(n if keys else 0):
        src, tgt = rng.choice(keys)
        pairs = directions[src, tgt]
        picked = rng.sample(range(len(pairs)), cfg.shots + 1)
        names = language_names(src, tgt)
        shots = "\n".join(f"{names['src']}: {pairs[i][0]}\n{names['tgt']}: {pairs[i][1]}" for i in picked[1:])
        a, b = pairs[picked[0]]
        yield _record("few_shot", "Translate from {src} into {tgt}, following the examples.".format(**names),
                      f"{shots}\n{names['src']}: {a}", b, src, tgt)


def _cleaned(record: dict) -> dict:
    """The record with every text field and message cleaned (line breaks kept)."""
    out = {k: normalise(v, spaces=False) if isinstance(v, str) and k in ("instruction", "input", "output") else v
           for k, v in record.items()}
    out["messages"] = [{**m, "content": normalise(m["content"], spaces=False)} for m in record["messages"]]
    return out


BUILDERS = {"translation": _translation, "document": _document, "terminology": _terminology,
            "post_edit": _post_edit, "paraphrase": _paraphrase, "few_shot": _few_shot}


def build(cfg: InstructionConfig, out: str | Path) -> dict:
    """Write the mixture as JSONL (shuffled) and return its report: examples per task and direction."""
    unknown = [t for t in cfg.tasks if t not in BUILDERS]
    if unknown:
        raise InputError(f"unknown task {unknown[0]!r}; tasks: {', '.join(TASKS)}")
    check_output(out, "file")
    check_output(f"{out}.report.json", "file")
    rng = random.Random(cfg.seed)
    directions = by_direction(read_pairs(cfg.sources), cfg.both_directions)
    records = []
    for spec in cfg.alpaca:
        records += [{**r, "task": r.get("task", "alpaca")} for r in taken_whole(spec, instruction)]
    for task, n in cfg.tasks.items():
        if n > 0:
            records += list(BUILDERS[task](directions, cfg, random.Random(f"{cfg.seed}:{task}"), n))
    records = [_cleaned(r) for r in records]
    rng.shuffle(records)
    with atomic_path(out) as tmp:
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    tasks = Counter(r["task"] for r in records)
    per_direction = Counter(f"{r['src_lang']}-{r['tgt_lang']}" for r in records if "src_lang" in r)
    report = {"examples": len(records), "tasks": dict(tasks), "requested": cfg.tasks,
              "directions": dict(per_direction), "config": cfg.model_dump()}
    with atomic_path(Path(f"{out}.report.json")) as tmp:
        tmp.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return report
