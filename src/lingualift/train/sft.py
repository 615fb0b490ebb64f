"""Instruction tuning with the loss on assistant tokens only.

    lingualift train sft --model runs/cpt-tiny/model --data runs/sft-tiny.jsonl --out runs/sft-tiny

Examples are rendered with the tokenizer's chat template (`template: chat`, multi-turn) or
LLaMAX's Alpaca prompt (`template: llamax-alpaca`, single turn). Each assistant turn's
span is found by rendering the conversation up to the turn with and without it, so its end
of turn marker is learned too; every other token carries label -100. With `packing`,
examples share rows of `max_length` tokens with position ids restarting per example, which
transformers turns into attention that stays inside each example.
"""

from __future__ import annotations

from lingualift.core.io import InputError
from lingualift.core.records import read_instructions
from lingualift.inference.prompts import alpaca_prompt
from lingualift.train import common
from lingualift.train.config import TrainConfig


def _alpaca_parts(record: dict) -> tuple[str, str]:
    messages = record["messages"]
    if [m["role"] for m in messages if m["role"] != "system"] != ["user", "assistant"]:
        raise InputError("the llamax-alpaca template takes single-turn examples (use template: chat)")
    instruction = record.get("instruction", messages[-2]["content"])
    return alpaca_prompt(instruction, record.get("input", "")), messages[-1]["content"]


def encode(tokenizer, record: dict, template: str, max_length: int) -> tuple[list[int], list[int]]:
    """Token ids and labels (-100 outside assistant turns), cut at `max_length`."""
    if template == "llamax-alpaca":
        prompt, answer = _alpaca_parts(record)
        prompt_ids = tokenizer(prompt, add_special_tokens=True)["input_ids"]
        answer_ids = tokenizer("\n" + answer, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        ids, labels = prompt_ids + answer_ids, [-100] * len(prompt_ids) + answer_ids
        return ids[:max_length], labels[:max_length]
    if template != "chat":
        raise InputError(f"unknown SFT template {template!r} (chat or llamax-alpaca)")
    if not tokenizer.chat_template:
        raise InputError("the model's tokenizer has no chat template (use template: llamax-alpaca)")
    messages = record["messages"]
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    spans = []
    for i, turn in enumerate(messages):
        if turn["role"] == "assistant":
            start = len(tokenizer.apply_chat_template(messages[:i], tokenize=False, add_generation_prompt=True))
            end = len(tokenizer.apply_chat_template(messages[:i + 1], tokenize=False))
            spans.append((start, end))
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = enc["input_ids"]
    labels = [tok if any(s <= a < e for s, e in spans) else -100
              for tok, (a, _) in zip(ids, enc["offset_mapping"])]
    return ids[:max_length], labels[:max_length]


def pack_examples(examples: list[tuple[list[int], list[int]]], max_length: int, pad_id: int) -> list[dict]:
    """First-fit rows of whole examples; position ids restart per example, padding is its own
    sequence with label -100."""
    rows: list[dict] = []
    current = {"input_ids": [], "labels": [], "position_ids": []}
    for ids, labels in examples:
        if current["input_ids"] and len(current["input_ids"]) + len(ids) > max_length:
            rows.append(current)
            current = {"input_ids": [], "labels": [], "position_ids": []}
        current["input_ids"] += ids
        current["labels"] += labels
        current["position_ids"] += list(range(len(ids)))
    if current["input_ids"]:
        rows.append(current)
    for row in rows:
        pad = max_length - len(row["input_ids"])
        row["real"] = len(row["input_ids"])
        row["input_ids"] += [pad_id] * pad
        row["labels"] += [-100] * pad
        row["position_ids"] += list(range(pad))
    return rows


def collator(meter: common.Meter, pad_id: int, packed: bool):
    import torch

    def collate(rows: list[dict]) -> dict:
        if packed:
            batch = {k: torch.tensor([r[k] for r in rows], dtype=torch.long)
                     for k in ("input_ids", "labels", "position_ids")}
            meter.add(batch["input_ids"].numel(), sum(r["real"] for r in rows))
            return {**batch, "use_cache": False}  # see cpt.packed_collator
        width = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        labels = torch.full((len(rows), width), -100, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            n = len(r["input_ids"])
            ids[i, :n], labels[i, :n], mask[i, :n] = torch.tensor(r["input_ids"]), torch.tensor(r["labels"]), 1
        meter.add(ids.numel(), int(mask.sum()))
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}

    return collate


def run(cfg: TrainConfig, resume: bool = False, overwrite: bool = False) -> dict:
    from datasets import Dataset
    from transformers import Trainer

    records = read_instructions(cfg.data)
    model, tokenizer, peft_config, out, directory = common.prepare(cfg, resume, overwrite)
    examples = [encode(tokenizer, r, cfg.template, cfg.max_length) for r in records]
    examples = [(ids, labels) for ids, labels in examples if any(x != -100 for x in labels)]
    if not examples:
        raise InputError(f"no example keeps any of its answer within max_length {cfg.max_length} tokens (the "
                         "prompts alone are longer): raise max_length", cfg.data)
    if cfg.packing:
        rows = pack_examples(examples, cfg.max_length, tokenizer.pad_token_id)
    else:
        rows = [{"input_ids": ids, "labels": labels} for ids, labels in examples]
    if peft_config:
        from peft import get_peft_model

        model = get_peft_model(model, peft_config)
    meter = common.Meter()
    trainer = common.metered(Trainer)(
        model=model, args=common.arguments(cfg, out, remove_unused_columns=False), train_dataset=Dataset.from_list(rows),
        data_collator=collator(meter, tokenizer.pad_token_id, cfg.packing), **common.throughput_kwargs(cfg, model, meter))
    trainer.train(resume_from_checkpoint=common.resume_point(out) if resume else None)
    final = common.save_final(trainer, tokenizer, out, directory, cfg, "sft")
    return common.write_manifest(out, "sft", cfg, trainer, {
        "model_dir": str(final), "examples": len(examples), "rows": len(rows),
        "packing_efficiency": meter.total_real / meter.total_positions if meter.total_positions else None})
