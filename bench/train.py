"""Packed against padded training: same model, same sentences, same optimizer steps.

    python bench/train.py [--model tiny] [--steps 30] [--block 512] [--batch 8]

Sentences: Tatoeba eng-swa (both sides) and FLORES dev Swahili, tokenised by the model's
tokenizer. Packed: documents joined into rows of --block tokens with restarting position
ids (what `data build` + `train cpt` do). Padded: one sentence per row, rows padded to the
longest in the batch, --batch x (block / mean sentence length) rows so both see about the
same number of sentences per step. Prints useful-token fraction (text, not padding),
useful tokens/s and all positions/s for both, and the ratio.
"""

import argparse
import os
import sys
import time
from pathlib import Path

DATA = Path(os.environ.get("LINGUALIFT_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


def sentences() -> list[str]:
    from lingualift.core.io import read_lines

    tatoeba = DATA / "tatoeba" / "eng-swa"
    return (read_lines(tatoeba / "tatoeba-test-v2021-08-07.eng") + read_lines(tatoeba / "tatoeba-test-v2021-08-07.swa")
            + read_lines(DATA / "flores200" / "swh_Latn.dev"))


def train(model_spec: str, rows: list[dict], collate, steps: int, batch: int, meter) -> float:
    from datasets import Dataset
    from transformers import Trainer, TrainingArguments

    from lingualift.train.common import load_model
    from lingualift.train.config import TrainConfig

    cfg = TrainConfig(model=model_spec, data="-", out="-")
    model, _, _ = load_model(cfg)
    args = TrainingArguments(output_dir="/tmp/lingualift-bench-train", max_steps=steps, per_device_train_batch_size=batch,
                             learning_rate=1e-3, report_to=[], save_strategy="no", disable_tqdm=True, seed=0,
                             remove_unused_columns=False, use_cpu=not __import__("torch").cuda.is_available(),
                             bf16=__import__("torch").cuda.is_available())
    trainer = Trainer(model=model, args=args, train_dataset=Dataset.from_list(rows), data_collator=collate)
    start = time.perf_counter()
    trainer.train()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--block", type=int, default=512)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    if not (DATA / "flores200").is_dir():
        sys.exit(f"needs the shared data at {DATA} (set LINGUALIFT_SHARED_DATA)")
    from transformers import AutoTokenizer

    from lingualift.inference.models import resolve_spec
    from lingualift.train.common import Meter
    from lingualift.train.cpt import packed_collator
    from lingualift.train.sft import collator

    tokenizer = AutoTokenizer.from_pretrained(resolve_spec(args.model)[0])
    eos = tokenizer.eos_token_id
    docs = [ids + [eos] for ids in tokenizer(sentences(), add_special_tokens=False)["input_ids"]]
    flat = [t for d in docs for t in d]
    packed_rows = []
    for start in range(0, len(flat) - args.block + 1, args.block):
        positions, p = [], 0
        for token in flat[start:start + args.block]:
            positions.append(p)
            p = 0 if token == eos else p + 1
        packed_rows.append({"input_ids": flat[start:start + args.block], "position_ids": positions})
    padded_rows = [{"input_ids": d[:args.block], "labels": d[:args.block]} for d in docs]
    mean_len = sum(map(len, docs)) / len(docs)
    padded_batch = max(1, round(args.batch * args.block / mean_len))

    results = {}
    for name, rows, make, batch in (("packed", packed_rows, lambda m: packed_collator(m), args.batch),
                                    ("padded", padded_rows, lambda m: collator(m, tokenizer.pad_token_id or eos, False),
                                     padded_batch)):
        meter = Meter()
        seconds = train(args.model, rows, make(meter), args.steps, batch, meter)
        results[name] = {"seconds": seconds, "positions": meter.total_positions, "useful": meter.total_real,
                         "batch": batch}
    print(f"model={args.model} steps={args.steps} block={args.block} sentences={len(docs)} "
          f"mean sentence {mean_len:.1f} tokens; packed batch {args.batch} rows, padded batch {padded_batch} rows")
    print(f"| {'layout':<7} | {'useful fraction':>15} | {'useful tokens/s':>15} | {'positions/s':>11} | {'seconds':>7} |")
    print(f"|{'-' * 9}|{'-' * 17}|{'-' * 17}|{'-' * 13}|{'-' * 9}|")
    for name, r in results.items():
        print(f"| {name:<7} | {r['useful'] / r['positions']:>15.3f} | {r['useful'] / r['seconds']:>15.0f} | "
              f"{r['positions'] / r['seconds']:>11.0f} | {r['seconds']:>7.1f} |")
    ratio = ((results["packed"]["useful"] / results["packed"]["seconds"])
             / (results["padded"]["useful"] / results["padded"]["seconds"]))
    print(f"useful tokens/s, packed / padded: {ratio:.2f}x")


if __name__ == "__main__":
    main()
