"""Train only the embedding rows `vocab expand` added, leaving every other row exactly as it was.

Freezing the matrices (`requires_grad = False`) would freeze the new rows with the old ones,
and letting them train moves the old rows the base spent its pretraining on. So the
matrices stay trainable and a gradient hook zeroes the gradient of every row outside the
new ones; the input embeddings and an untied LM head each get one (a tied head is the same
tensor, so one hook covers both uses). Padding rows (to a multiple of 64) are outside too:
they keep their init and are never generated (`vocab expand` suppresses them).

AdamW's decoupled weight decay shrinks every parameter of its group whatever its gradient,
which would move the old rows too; the phase therefore runs without weight decay (a few
hundred steps: decay matters little over that span). With zero gradients Adam's moments stay
zero, so its update of an old row is exactly zero and gradient clipping keeps it zero.
"""

from __future__ import annotations

import json
from pathlib import Path

from lingualift.core.io import InputError


def new_row_range(directory: Path) -> tuple[int, int] | None:
    """[first, end) of the rows `vocab expand` added, from its manifest; None if not expanded."""
    manifest = directory / "manifest.json"
    if not manifest.is_file():
        return None
    ids = json.loads(manifest.read_text(encoding="utf-8")).get("new_token_ids")
    return (ids[0], ids[-1] + 1) if ids else None


def rows_to_train(setting: str, directory: Path) -> tuple[int, int] | None:
    """The row range the embeddings-first phase trains (None: all rows)."""
    found = new_row_range(directory)
    if setting == "new" and found is None:
        raise InputError("embedding_rows new needs a model made by `vocab expand` (its manifest.json lists the "
                         "new token ids); use embedding_rows all", directory)
    return found if setting in ("new", "auto") else None


def train_only(model, rows: tuple[int, int]) -> list:
    """Make input embeddings and LM head trainable with gradients outside `rows` zeroed;
    everything else frozen. Returns the hook handles."""
    import torch

    for param in model.parameters():
        param.requires_grad = False
    weights = [model.get_input_embeddings().weight]
    head = model.get_output_embeddings()
    if head is not None and head.weight is not weights[0]:
        weights.append(head.weight)
    handles = []
    for weight in weights:
        weight.requires_grad = True
        mask = torch.zeros(weight.shape[0], 1, dtype=weight.dtype, device=weight.device)
        mask[rows[0]:rows[1]] = 1
        handles.append(weight.register_hook(lambda grad, mask=mask: grad * mask))
    return handles
