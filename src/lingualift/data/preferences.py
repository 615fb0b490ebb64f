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
from typing import Optional

from pydantic import Field

from lingualift.core.config import StrictModel
from lingualift.core.io import atomic_path, check_output
from lingualift.data.config import Source
from lingualift.data.parallel import by_direction, degrade, language_names, read_pairs
from lingualift.inference.prompts import LLAMAX_INSTRUCTION


class PreferenceConfig(StrictModel):
    sources: list[Source] = Field(default_factory=list, description="parallel data, as in `data build`")
    examples: int = Field(500, ge=1, description="preference pairs to make")
    both_directions: bool = Field(True, description="each pair in both directions")
    seed: int = Field(0, description="seed of sampling")


def build(cfg: PreferenceConfig, out: str | Path, model: Optional[str] = None, batch_size: int = 16) -> dict:
    check_output(out, "file")
    rng = random.Random(cfg.seed)
    items = [(d, pair) for d, pairs in by_direction(read_pairs(cfg.sources), cfg.both_directions).items() for pair in pairs]
    rng.shuffle(items)
    items = items[:cfg.examples]
    prompts = [LLAMAX_INSTRUCTION.format(**language_names(src, tgt)) + f"\n\n{a}" for (src, tgt), (a, _) in items]
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
    with atomic_path(out) as tmp:
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return {"examples": len(records), "rejected_from": dict(Counter(r["rejected_from"] for r in records)),
            "model": model}
