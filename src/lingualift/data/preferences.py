"""Translation preference pairs for DPO: the reference is chosen; the rejected answer is the
model's own translation (when a model is given and its output differs from the reference)
or the reference with word-level errors.

    lingualift data dpo --config recipes/dpo-data-tiny.yaml --out runs/dpo-tiny.jsonl [--model M]

Records follow DESIGN.md's preference format with the prompt as messages, so a chat
template renders them: `{"prompt": [{"role": "user", ...}], "chosen": str, "rejected": str}`.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Literal, Optional

from pydantic import Field

from lingualift.core.config import CommaList, StrictModel
from lingualift.core.io import InputError, atomic_path, check_output
from lingualift.core.records import preference
from lingualift.data.config import Source, hub_spec
from lingualift.data.parallel import by_direction, degrade, language_names, read_pairs
from lingualift.data.readers import taken_whole
from lingualift.inference.prompts import LLAMAX_INSTRUCTION
from lingualift.quality.rewards import DEFAULT_WEIGHTS


class PreferenceConfig(StrictModel):
    sources: list[Source] = Field(default_factory=list, description="parallel data, as in `data build`")
    preferences: CommaList = Field(default_factory=list, description="preference files (JSON/JSONL) or hub datasets "
                                                                     "(hf:NAME[:SPLIT], streamed), taken whole")
    examples: int = Field(500, ge=1, description="preference pairs to make")
    both_directions: bool = Field(True, description="each pair in both directions")
    seed: int = Field(0, description="seed of sampling")
    mode: Literal["reference", "samples"] = Field(
        "reference", description="reference: the reference chosen, the model's output (or a degraded reference) "
                                 "rejected; samples: the best and worst of --samples model samples by the reward "
                                 "(Tower+ / Hunyuan-MT; needs --model)")
    samples: int = Field(4, ge=2, description="samples mode: candidates sampled per prompt")
    rewards: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_WEIGHTS),
                                      description="samples mode: reward term -> weight, as train grpo")

    def hub_datasets(self) -> list[tuple[str, Optional[str]]]:
        """(dataset, config) streamed from the hub: hf sources and hf: preference sets."""
        hub = [(spec[0], None) for spec in map(hub_spec, self.preferences) if spec]
        return [d for source in self.sources for d in source.hub_datasets()] + hub


def _from_samples(cfg: PreferenceConfig, items, prompts: list[str], model: str, batch_size: int) -> list[dict]:
    """Best and worst of the model's own samples by the translation reward; prompts whose
    samples all score the same teach nothing and are left out."""
    from lingualift.inference.generate import GenerationParams, load_generator
    from lingualift.quality import rewards

    generator = load_generator(model, engine="hf")
    rendered = [generator.tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                                        add_generation_prompt=True) for p in prompts]
    params = GenerationParams(batch_size=batch_size, max_new_tokens=256, do_sample=True, seed=cfg.seed)
    records = []
    for ((src, tgt), (a, b)), prompt, cands in zip(items, prompts, generator.candidates(rendered, params, cfg.samples)):
        scores, _ = rewards.total(cfg.rewards, cands, [b] * len(cands), [a] * len(cands), [tgt] * len(cands))
        best, worst = max(range(len(cands)), key=scores.__getitem__), min(range(len(cands)), key=scores.__getitem__)
        if scores[best] == scores[worst]:
            continue
        records.append({"prompt": [{"role": "user", "content": prompt}], "chosen": rewards.translation(cands[best]),
                        "rejected": rewards.translation(cands[worst]), "rejected_from": "samples",
                        "rewards": {"chosen": round(scores[best], 4), "rejected": round(scores[worst], 4)},
                        "src_lang": src, "tgt_lang": tgt})
    return records


def build(cfg: PreferenceConfig, out: str | Path, model: Optional[str] = None, batch_size: int = 16) -> dict:
    check_output(out, "file")
    taken = [r for spec in cfg.preferences for r in taken_whole(spec, preference)]
    rng = random.Random(cfg.seed)
    items = [(d, pair) for d, pairs in by_direction(read_pairs(cfg.sources), cfg.both_directions).items() for pair in pairs]
    rng.shuffle(items)
    items = items[:cfg.examples]
    prompts = [LLAMAX_INSTRUCTION.format(**language_names(src, tgt)) + f"\n\n{a}" for (src, tgt), (a, _) in items]
    if cfg.mode == "samples":
        if not model:
            raise InputError("mode samples ranks the model's own samples: give --model")
        records = _from_samples(cfg, items, prompts, model, batch_size)
        _write(out, records + taken)
        return {"examples": len(records) + len(taken), "rejected_from": {"samples": len(records)}, "model": model,
                "skipped_ties": len(items) - len(records), "taken_whole": len(taken)}
    own = [None] * len(items)
    if model:
        from lingualift.inference.generate import GenerationParams, load_generator

        generator = load_generator(model, engine="hf")
        rendered = [generator.tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False,
                                                            add_generation_prompt=True) for p in prompts]
        own = generator.generate(rendered, GenerationParams(batch_size=batch_size, max_new_tokens=256))
    records = []
    for ((src, tgt), (_a, b)), prompt, output in zip(items, prompts, own):
        rejected, origin = ((output.strip(), "model") if output and output.strip() != b.strip()
                            else (degrade(b, rng), "degraded"))
        records.append({"prompt": [{"role": "user", "content": prompt}], "chosen": b, "rejected": rejected,
                        "rejected_from": origin, "src_lang": src, "tgt_lang": tgt})
    _write(out, records + taken)
    return {"examples": len(records) + len(taken), "rejected_from": dict(Counter(r["rejected_from"] for r in records)),
            "model": model, "taken_whole": len(taken)}


def _write(out: str | Path, records: list[dict]) -> None:
    with atomic_path(out) as tmp:
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
