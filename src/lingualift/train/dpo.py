"""Direct preference optimisation on TRL's DPOTrainer (SambaLingo's last stage).

    lingualift train dpo --model runs/sft-tiny/model --data runs/dpo-tiny.jsonl --out runs/dpo-tiny

Preference records (DESIGN.md: prompt as text or messages, chosen, rejected; LLaMA-Factory's
`conversations` + `chosen`/`rejected` turns are read too) become TRL's conversational
format, so the model's chat template renders them; with `template: llamax-alpaca` the
prompt is LLaMAX's Alpaca prompt instead. The reference model is the starting model (a
frozen copy, or the adapter-free base under LoRA).
"""

from __future__ import annotations

from lingualift.core.io import InputError
from lingualift.core.records import read_preferences
from lingualift.inference.prompts import alpaca_prompt
from lingualift.train import common
from lingualift.train.config import TrainConfig


def _dataset_rows(records: list[dict], template: str) -> list[dict]:
    if template == "chat":
        return [{"prompt": r["prompt"], "chosen": [{"role": "assistant", "content": r["chosen"]}],
                 "rejected": [{"role": "assistant", "content": r["rejected"]}]} for r in records]
    if template == "llamax-alpaca":
        return [{"prompt": alpaca_prompt(r["prompt"][-1]["content"]) + "\n", "chosen": r["chosen"],
                 "rejected": r["rejected"]} for r in records]
    raise InputError(f"unknown DPO template {template!r} (chat or llamax-alpaca)")


def run(cfg: TrainConfig, resume: bool = False, overwrite: bool = False) -> dict:
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    records = read_preferences(cfg.data)
    model, tokenizer, peft_config, out, directory = common.prepare(cfg, resume, overwrite)
    if cfg.template == "chat" and not tokenizer.chat_template:
        raise InputError("the model's tokenizer has no chat template (use template: llamax-alpaca)")
    meter = common.Meter()
    args = common.arguments(cfg, out, config_class=DPOConfig, beta=cfg.beta, max_length=cfg.max_length)
    trainer = common.metered(DPOTrainer)(
        model=model, args=args, train_dataset=Dataset.from_list(_dataset_rows(records, cfg.template)),
        processing_class=tokenizer, peft_config=peft_config, **common.throughput_kwargs(cfg, model, meter))
    trainer.train(resume_from_checkpoint=common.resume_point(out) if resume else None)
    final = common.save_final(trainer, tokenizer, out, directory, cfg, "dpo")
    history = [h for h in trainer.state.log_history if "rewards/margins" in h]
    rewards = {key: {"first": history[0][f"rewards/{key}"], "last": history[-1][f"rewards/{key}"]}
               for key in ("accuracies", "margins")} if history else None
    return common.write_manifest(out, "dpo", cfg, trainer, {"model_dir": str(final), "pairs": len(records),
                                                            "rewards": rewards})
