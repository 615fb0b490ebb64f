"""Multilingual task evaluation (`lingualift eval tasks`): one module per task, a registry map.

Each module has LANGS (the language codes its files use), DEFAULT_SHOTS and
`load(root, lang, shots, fmt) -> list[Item]` reading the public format from the local copy
(`../shared/data/tasks` layout). Multiple-choice items are scored by log-likelihood
(lm-evaluation-harness's definitions, see `loglik.py`), generation items (MGSM) by greedy
decoding and the last number of the answer.
"""

from __future__ import annotations

import importlib

from lingualift.core.io import InputError

TASKS = ("xnli", "xcopa", "pawsx", "xwinograd", "sib200", "belebele", "mgsm")


def get(name: str):
    """A task module by name."""
    if name not in TASKS:
        raise InputError(f"unknown task {name!r}; choose from {', '.join(TASKS)}")
    return importlib.import_module(f"lingualift.tasks.{name}")
