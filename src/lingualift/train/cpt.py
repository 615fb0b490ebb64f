"""Continual pretraining on the packed shards of `lingualift data build`.

    lingualift train cpt --model tiny --data runs/data-demo --out runs/cpt-tiny --max-steps 200

Each row is a block of documents joined with EOS; `position_ids` restart at every document.
The rows carry no attention mask and no KV cache, so transformers (5.x) reads the restarts as packed
sequences and keeps attention inside each document: a block-diagonal mask under sdpa and
eager, variable-length kernels under flash_attention_2. The first token of each document
is not predicted from the previous one (its label is -100).

After `vocab expand`, `embedding_steps` first trains only the embeddings and LM head (the
rest frozen) so the new rows move before the whole network adapts to them; with
`embedding_rows: new` (the default on an expanded model) only the new rows of both, the old
ones held exactly by a gradient mask (`train/new_rows.py`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from lingualift.core.io import InputError
from lingualift.inference.perplexity import nll
from lingualift.train import common, new_rows
from lingualift.train.config import TrainConfig


def load_shards(directory: str, vocab_rows: int):
    """The shards as a memory-mapped datasets.Dataset, checked before any training."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from datasets import Dataset

    files = sorted(Path(directory).glob("shard-*.parquet"))
    if not files:
        raise InputError("no shard-*.parquet files (expected the output folder of `lingualift data build`)", directory)
    first = pq.read_table(files[0])
    missing = [c for c in ("input_ids", "position_ids") if c not in first.column_names]
    if missing:
        raise InputError(f"shard lacks column(s) {', '.join(missing)} (expected input_ids, position_ids "
                         f"as written by `lingualift data build`; found {', '.join(first.column_names)})", files[0])
    top = pc.max(pc.list_flatten(first["input_ids"])).as_py()
    if top is not None and top >= vocab_rows:
        raise InputError(f"token id {top} >= the model's {vocab_rows} embedding rows: the shards were "
                         "tokenised for another tokenizer (set pack.tokenizer to this model)", files[0])
    return Dataset.from_parquet([str(f) for f in files])


def packed_collator(meter: common.Meter):
    import torch

    def collate(rows: list[dict]) -> dict:
        ids = torch.tensor([r["input_ids"] for r in rows], dtype=torch.long)
        positions = torch.tensor([r["position_ids"] for r in rows], dtype=torch.long)
        labels = ids.clone()
        labels[positions == 0] = -100
        meter.add(ids.numel(), ids.numel())
        # use_cache=False: transformers reads restarting position ids as packed documents
        # only when no KV cache is in play (a model in its default config makes one).
        return {"input_ids": ids, "position_ids": positions, "labels": labels, "use_cache": False}

    return collate


def heldout(cfg: TrainConfig) -> dict[str, list[str]]:
    from lingualift.corpora.sources import heldout as lines
    from lingualift.lang.languages import resolve_code

    if not cfg.eval_data:
        return {}
    return {code: lines(cfg.eval_data, code, cfg.eval_lines) for code in map(resolve_code, cfg.eval_langs)}


def perplexities(model, tokenizer, texts: dict[str, list[str]]) -> dict:
    was_training = model.training
    model.eval()
    out = {code: nll(model, tokenizer, lines) for code, lines in texts.items()}
    model.train(was_training)
    return out


def _embedding_phase(cfg: TrainConfig, out: Path, dataset, resume: bool) -> Path:
    """Train input embeddings and LM head only; returns the HF directory to continue from."""
    from transformers import Trainer

    target = out / "embeddings"
    if (target / "config.json").is_file():
        return target
    model, tokenizer, directory = common.load_model(cfg)
    rows = new_rows.rows_to_train(cfg.embedding_rows, directory)
    phase = cfg
    if rows:
        new_rows.train_only(model, rows)
        phase = cfg.model_copy(update={"weight_decay": 0.0})  # decay would move the old rows (new_rows.py)
    else:
        for param in model.parameters():
            param.requires_grad = False
        model.get_input_embeddings().weight.requires_grad = True
        model.get_output_embeddings().weight.requires_grad = True
    meter = common.Meter()
    trainer = common.metered(Trainer)(
        model=model, args=common.arguments(phase, out, max_steps=cfg.embedding_steps, lr=cfg.embedding_lr,
                                           subdir="embeddings-checkpoints"),
        train_dataset=dataset, data_collator=packed_collator(meter),
        **common.throughput_kwargs(cfg, model, meter))
    trainer.train(resume_from_checkpoint=common.resume_point(out, "embeddings-checkpoints") if resume else None)
    tmp = out / ".embeddings.tmp"
    main = trainer.args.process_index == 0
    if main:
        shutil.rmtree(tmp, ignore_errors=True)
    trainer.save_model(str(tmp))
    if main:
        tokenizer.save_pretrained(str(tmp))
        tmp.replace(target)
    trainer.accelerator.wait_for_everyone()
    return target


def run(cfg: TrainConfig, resume: bool = False, overwrite: bool = False) -> dict:
    from transformers import Trainer

    directory, skeleton = common.model_skeleton(cfg)
    dataset = load_shards(cfg.data, skeleton.get_input_embeddings().weight.shape[0])
    peft_config = common.lora_config(cfg, skeleton, directory) if cfg.lora else None
    texts = heldout(cfg)
    out = common.check_out(cfg, resume, overwrite)
    model, tokenizer, _ = common.load_model(cfg)
    before = perplexities(model, tokenizer, texts)
    if cfg.embedding_steps > 0:
        start = _embedding_phase(cfg, out, dataset, resume)
        model, tokenizer, _ = common.load_model(cfg, str(start))
    if peft_config:
        from peft import get_peft_model

        model = get_peft_model(model, peft_config)
    meter = common.Meter()
    trainer = common.metered(Trainer)(
        model=model, args=common.arguments(cfg, out), train_dataset=dataset,
        data_collator=packed_collator(meter), **common.throughput_kwargs(cfg, model, meter))
    trainer.train(resume_from_checkpoint=common.resume_point(out) if resume else None)
    after = perplexities(trainer.model, tokenizer, texts)
    final = common.save_final(trainer, tokenizer, out, directory, cfg, "cpt")
    return common.write_manifest(out, "cpt", cfg, trainer, {
        "model_dir": str(final), "data_rows": len(dataset),
        "heldout_ppl_char": {code: {"before": before[code]["ppl_char"], "after": after[code]["ppl_char"]}
                             for code in texts}})
