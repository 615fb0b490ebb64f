"""Merge a LoRA adapter into its base and save one Hugging Face model.

    lingualift export --adapter runs/cpt-lora/model --merge --out runs/cpt-merged

LLaMA-Factory and axolotl users hit broken merges after vocabulary expansion: the adapter's
saved embedding and LM head have the expanded row count, the base loaded for merging has
the original one, and loading the adapter fails on a shape mismatch (or silently drops
rows). Here the base is resized to the row count recorded at training time
(`lingualift_adapter.json`) before the adapter is loaded, then merged.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from lingualift.core.io import InputError, write_json


def merge(adapter: str | Path, out: str | Path, base: str | None = None) -> dict:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    adapter, out = Path(adapter), Path(out)
    if not (adapter / "adapter_config.json").is_file():
        raise InputError("not a LoRA adapter folder (no adapter_config.json)", adapter)
    meta_path = adapter / "lingualift_adapter.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    config = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    base = base or meta.get("base_model") or config.get("base_model_name_or_path")
    if not base:
        raise InputError("the adapter does not name its base model; pass --base", adapter / "adapter_config.json")
    from lingualift.inference.models import resolve_spec

    directory, _ = resolve_spec(base)
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(adapter)
    rows = meta.get("vocab_rows", len(tokenizer))
    resized = model.get_input_embeddings().weight.shape[0] != rows
    if resized:
        model.resize_token_embeddings(rows, mean_resizing=False)
    merged = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    # Rows past the tokenizer are padding (`vocab expand` pads to a multiple of 64): a base
    # resized here lacks the suppression `vocab expand` wrote, so it is written again.
    padding = set(range(len(tokenizer), rows))
    if padding and merged.generation_config is not None:
        merged.generation_config.suppress_tokens = sorted(set(merged.generation_config.suppress_tokens or []) | padding)
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    merged.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if (adapter / "README.md").is_file():  # the adapter's model card describes the merged model too
        shutil.copy2(adapter / "README.md", tmp / "README.md")
    info = {"adapter": str(adapter), "base": str(base), "vocab_rows": rows, "base_resized": resized}
    write_json(tmp / "merge.json", info)
    shutil.rmtree(out, ignore_errors=True)
    tmp.replace(out)
    return info
