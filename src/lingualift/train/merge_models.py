"""One merge through mergekit's Python API, with an expanded vocabulary handled.

mergekit merges tensors of one shape. An adapted model from `vocab expand` has tokens its base
and instruct model lack, so the difference of their embedding rows is not defined there.
Such a merge runs with mergekit's `tokenizer_source` set to the base (its documented way to
align vocabularies: rows matched by token text), which merges the rows of the base's tokens;
the rows after them (the new tokens and any padding) are then put in from the adapted model
exactly, and the merged model gets the adapted model's tokenizer, config and generation
config (the latter suppresses padding rows). A merge of models with one vocabulary merges
every row, padding included.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from lingualift.core.io import InputError, write_json

DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


@dataclass(frozen=True)
class Models:
    """The model folders of a merge (specs already resolved) and how many of the adapted
    model's rows are shared with the base: None when the tokenizers are the same."""

    base: Path
    adapted: Path
    instruct: Path | None
    shared: int | None


def _ref(path: Path) -> dict:
    # a path as a mapping, not a string: mergekit reads "+" in a string as a LoRA, "@" as a revision
    return {"model": {"path": str(path)}}


def configuration(method: str, weight: float, models: Models, density: float, dtype: str):
    """The mergekit configuration of one candidate (computed in fp32, written in `dtype`)."""
    from mergekit.config import MergeConfiguration

    adapted, base = _ref(models.adapted), _ref(models.base)
    if method == "task_arithmetic":  # base + (adapted - base) + w (instruct - base) = adapted + w (instruct - base)
        raw = {"base_model": base, "models": [{"model": adapted, "parameters": {"weight": 1.0}},
                                              {"model": _ref(models.instruct), "parameters": {"weight": weight}}]}
    elif method == "ties":
        # normalize off: with one model TIES divides the weight out again, and w would not matter
        raw = {"base_model": base, "parameters": {"normalize": False},
               "models": [{"model": adapted, "parameters": {"weight": weight, "density": density}}]}
    elif method == "linear":
        raw = {"models": [{"model": base, "parameters": {"weight": 1.0 - weight}},
                          {"model": adapted, "parameters": {"weight": weight}}]}
    else:
        raise InputError(f"unknown merge method {method!r}; choose task_arithmetic, ties or linear")
    if models.shared is not None:
        raw["tokenizer_source"] = base
    return MergeConfiguration.model_validate({"merge_method": method, "dtype": "float32", "out_dtype": DTYPES[dtype],
                                              **raw})


def _rows(directory: Path) -> int:
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(directory).get_text_config().vocab_size


def check(base: Path, adapted: Path, instruct: Path | None) -> Models:
    """The models' vocabularies, checked before anything is merged: instruct has the base's
    rows, and the adapted tokenizer keeps every base token at its id (new ones after them)."""
    from transformers import AutoTokenizer

    for other, role in ((adapted, "adapted"), (instruct, "instruct")):
        if other is not None and other.resolve() == base.resolve():
            raise InputError(f"the {role} model is the base itself: nothing to merge", other)
    if instruct is not None and _rows(instruct) != _rows(base):
        raise InputError(f"instruct model has {_rows(instruct)} embedding rows, its base {_rows(base)} "
                         "(the chat vector needs the same vocabulary)", instruct)
    base_vocab = AutoTokenizer.from_pretrained(base).get_vocab()
    adapted_vocab = AutoTokenizer.from_pretrained(adapted).get_vocab()
    if adapted_vocab == base_vocab:
        if _rows(adapted) != _rows(base):
            raise InputError(f"adapted model has {_rows(adapted)} embedding rows and its base {_rows(base)} for "
                             "the same tokenizer", adapted)
        return Models(base, adapted, instruct, None)
    moved = next(((token, i) for token, i in base_vocab.items() if adapted_vocab.get(token) != i), None)
    if moved is not None:
        token, i = moved
        raise InputError(f"the adapted tokenizer does not keep base token {token!r} at id {i} (found "
                         f"{adapted_vocab.get(token)}): merging needs the base's ids kept, as `vocab expand` keeps "
                         "them", adapted)
    return Models(base, adapted, instruct, len(base_vocab))


def merge(config, models: Models, out: Path, dtype: str) -> None:
    """Run mergekit into `out` and make it a model of the adapted model's shape and tokenizer."""
    import torch
    from mergekit.merge import MergeOptions, run_merge
    from transformers import AutoConfig, AutoTokenizer

    out.mkdir(parents=True, exist_ok=True)
    run_merge(config, str(out), MergeOptions(device="auto", quiet=True, copy_tokenizer=False,
                                             write_model_card=False, random_seed=0))
    for path in out.iterdir():  # the weights stay; config and tokenizer come from the adapted model
        if not (path.suffix == ".safetensors" or path.name == "model.safetensors.index.json"):
            path.unlink()
    if models.shared is not None:
        _adapted_rows(models.adapted, out, models.shared)
    cfg = AutoConfig.from_pretrained(models.adapted)
    cfg.dtype = getattr(torch, DTYPES[dtype])
    cfg.save_pretrained(out)
    AutoTokenizer.from_pretrained(models.adapted).save_pretrained(out)
    if (models.adapted / "generation_config.json").is_file():
        shutil.copy2(models.adapted / "generation_config.json", out / "generation_config.json")


def _adapted_rows(adapted: Path, out: Path, shared: int) -> None:
    """Vocabulary tensors of the merge (the base's `shared` rows) completed to the adapted
    model's rows, those past `shared` copied from it."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    where = {}
    for file in sorted(adapted.glob("*.safetensors")):
        with safe_open(file, "pt") as handle:
            where.update({name: file for name in handle.keys()})
    if not where:
        raise InputError("the adapted model has no .safetensors weights to take its new embedding rows from", adapted)
    total = 0
    for file in sorted(out.glob("*.safetensors")):
        tensors = load_file(file)
        changed = False
        for name, merged in tensors.items():
            if name not in where:
                continue
            with safe_open(where[name], "pt") as handle:
                shape = handle.get_slice(name).get_shape()
                if list(merged.shape) == shape:
                    continue
                if merged.shape[0] != shared or list(merged.shape[1:]) != shape[1:]:
                    raise InputError(f"cannot put the new rows into {name}: merged {list(merged.shape)}, adapted "
                                     f"{shape} (expected the vocabulary on the first axis)", adapted)
                full = handle.get_tensor(name).to(merged.dtype)
            full[:shared] = merged
            tensors[name], changed = full, True
        if changed:
            save_file(tensors, file, metadata={"format": "pt"})
        total += sum(t.numel() * t.element_size() for t in tensors.values())
    index = out / "model.safetensors.index.json"
    if index.is_file():  # its size field counts the rows just added
        data = json.loads(index.read_text(encoding="utf-8"))
        data.setdefault("metadata", {})["total_size"] = total
        write_json(index, data)
