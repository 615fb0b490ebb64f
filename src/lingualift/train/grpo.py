"""Reinforcement learning with translation rewards on TRL's GRPOTrainer.

    lingualift train grpo --model runs/demo/sft/model --data pairs.jsonl --out runs/grpo --max-steps 200

Each parallel record (`src, tgt, src_lang, tgt_lang`, DESIGN.md) becomes a prompt, the
translation instruction in the model's template (`template: chat` or `llamax-alpaca`, the
prompts `eval translate` sends); `num_generations` completions are sampled per prompt and
scored by the weighted reward terms of `quality/rewards.py` (`rewards: {chrf: 1, ...}`), which
TRL logs one by one (`rewards/<term>/mean`) beside the total. LoRA or full fine-tuning,
resumable from the last complete checkpoint like the other trainers.
"""

from __future__ import annotations

from lingualift.core.io import InputError
from lingualift.core.records import read_records
from lingualift.train import common
from lingualift.train.config import TrainConfig


def read_parallel(path: str) -> list[dict]:
    """Parallel records with string sides and known languages; the first bad one stops with file:line."""
    from lingualift.lang.languages import resolve_code

    out = []
    for number, record in read_records(path):
        if not all(isinstance(record.get(k), str) and record.get(k) for k in ("src", "tgt", "src_lang", "tgt_lang")):
            raise InputError("expected a parallel record with non-empty string src, tgt, src_lang, tgt_lang", path,
                             number)
        try:
            out.append({**record, "src_lang": resolve_code(record["src_lang"]),
                        "tgt_lang": resolve_code(record["tgt_lang"])})
        except InputError as err:
            raise InputError(err.message, path, number) from None
    return out


def prompts(tokenizer, records: list[dict], template: str) -> list[dict]:
    """Dataset rows: the prompt as `eval translate` renders it, and what the rewards need."""
    from lingualift.inference.prompts import get_template

    chosen = get_template(template, tokenizer)
    return [{"prompt": chosen.render(r["src"], r["src_lang"], r["tgt_lang"], []), "reference": r["tgt"],
             "source": r["src"], "tgt_lang": r["tgt_lang"]} for r in records]


def run(cfg: TrainConfig, resume: bool = False, overwrite: bool = False) -> dict:
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from lingualift.quality.rewards import for_trl

    records = read_parallel(cfg.data)
    funcs, weights = for_trl(cfg.rewards, cfg.qe_model)
    if not funcs:
        raise InputError("rewards: every term has weight 0 (give e.g. rewards: {chrf: 1.0})")
    if (cfg.batch_size * cfg.grad_accum) % cfg.num_generations:
        raise InputError(f"batch_size x grad_accum ({cfg.batch_size * cfg.grad_accum}) must be a multiple of "
                         f"num_generations ({cfg.num_generations}): each prompt's group is scored together")
    model, tokenizer, peft_config, out, directory = common.prepare(cfg, resume, overwrite)
    rows = prompts(tokenizer, records, cfg.template)
    args = common.arguments(cfg, out, config_class=GRPOConfig, num_generations=cfg.num_generations,
                            max_completion_length=cfg.max_completion_length, beta=cfg.grpo_beta,
                            reward_weights=weights, remove_unused_columns=False)
    trainer = common.metered(GRPOTrainer)(
        model=model, reward_funcs=funcs, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
        peft_config=peft_config, **common.throughput_kwargs(cfg, model, common.Meter()))
    trainer.train(resume_from_checkpoint=common.resume_point(out) if resume else None)
    final = common.save_final(trainer, tokenizer, out, directory, cfg, "grpo")
    history = [h for h in trainer.state.log_history if "reward" in h]
    rewards = {key: {"first": history[0][key], "last": history[-1][key]}
               for key in history[0] if key == "reward" or key.startswith("rewards/")} if history else None
    return common.write_manifest(out, "grpo", cfg, trainer, {"model_dir": str(final), "prompts": len(rows),
                                                             "rewards": rewards})
