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

import json
from pathlib import Path

from lingualift.io import InputError, iter_lines
from lingualift.train import common
from lingualift.train.config import TrainConfig

ROLES = ("system", "user", "assistant")
# ShareGPT/LLaMA-Factory role names, read as ours.
_SHAREGPT = {"human": "user", "gpt": "assistant", "system": "system", "user": "user", "assistant": "assistant"}

ALPACA_HEADER = ("Below is an instruction that describes a task, paired with an input that provides "
                 "further context. Write a response that appropriately completes the request.\n")
ALPACA_HEADER_NO_INPUT = "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n"


def to_messages(record: dict, require_assistant: bool = True) -> list[dict]:
    """DESIGN.md instruction records, Alpaca records and ShareGPT `conversations`, as messages."""
    if "messages" in record:
        messages = record["messages"]
    elif "instruction" in record and "output" in record:
        user = record["instruction"] + (f"\n\n{record['input']}" if record.get("input") else "")
        messages = [{"role": "user", "content": user}, {"role": "assistant", "content": record["output"]}]
    elif "conversations" in record:
        messages = [{"role": _SHAREGPT.get(turn.get("from"), turn.get("from")), "content": turn.get("value")}
                    for turn in record["conversations"]]
    else:
        raise ValueError("expected messages, instruction/input/output or conversations")
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages must be a non-empty list")
    for turn in messages:
        if not isinstance(turn, dict) or turn.get("role") not in ROLES:
            role = turn.get("role") if isinstance(turn, dict) else turn
            raise ValueError(f"unknown role {role!r} (expected {', '.join(ROLES)})")
        if not isinstance(turn.get("content"), str):
            raise ValueError(f"a {turn['role']} message without string content")
    if require_assistant and not any(turn["role"] == "assistant" for turn in messages):
        raise ValueError("no assistant message to learn from")
    return messages


def read_records(path: str) -> list[tuple[int, dict]]:
    """(line or item number, record) from JSONL or a JSON list, stopping at the first bad one."""
    p = Path(path)
    if p.suffix == ".json":
        try:
            items = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError("file not found", path) from None
        except json.JSONDecodeError as err:
            raise InputError(f"malformed JSON ({err.msg})", path, err.lineno) from None
        if not isinstance(items, list):
            raise InputError("expected a JSON list of records", path)
        return list(enumerate(items, start=1))
    out = []
    for number, text, error in iter_lines(path):
        if error:
            raise InputError(error, path, number)
        if not text.strip():
            continue
        try:
            out.append((number, json.loads(text)))
        except json.JSONDecodeError as err:
            raise InputError(f"malformed JSON ({err.msg}, column {err.colno})", path, number) from None
    if not out:
        raise InputError("no records", path)
    return out


def read_instructions(path: str) -> list[dict]:
    """Records with their messages checked; the first bad one stops with file:line."""
    out = []
    for number, record in read_records(path):
        try:
            if not isinstance(record, dict):
                raise ValueError("expected a JSON object")
            out.append({**record, "messages": to_messages(record)})
        except ValueError as err:
            raise InputError(str(err), path, number) from None
    return out


def _alpaca_parts(record: dict) -> tuple[str, str]:
    messages = record["messages"]
    if [m["role"] for m in messages if m["role"] != "system"] != ["user", "assistant"]:
        raise InputError("the llamax-alpaca template takes single-turn examples (use template: chat)")
    instruction = record.get("instruction", messages[-2]["content"])
    given = record.get("input", "")
    header = ALPACA_HEADER if given else ALPACA_HEADER_NO_INPUT
    prompt = f"{header}### Instruction:\n{instruction}\n" + (f"### Input:\n{given}\n" if given else "") + "### Response:"
    return prompt, messages[-1]["content"]


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
            batch = {k: torch.tensor([r[k] for r in rows], dtype=torch.long) for k in ("input_ids", "labels", "position_ids")}
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
    directory, skeleton = common.model_skeleton(cfg)
    peft_config = common.lora_config(cfg, skeleton, directory) if cfg.lora else None
    out = common.check_out(cfg, resume, overwrite)
    model, tokenizer, _ = common.load_model(cfg)
    examples = [encode(tokenizer, r, cfg.template, cfg.max_length) for r in records]
    examples = [(ids, labels) for ids, labels in examples if any(x != -100 for x in labels)]
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
    final = common.save_final(trainer, tokenizer, out, directory)
    return common.write_manifest(out, "sft", cfg, trainer, {
        "model_dir": str(final), "examples": len(examples), "rows": len(rows),
        "packing_efficiency": meter.total_real / meter.total_positions if meter.total_positions else None})
