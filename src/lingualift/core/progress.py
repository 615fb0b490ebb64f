"""Progress reporting without a terminal: libraries take a `ProgressFactory`, the CLI passes a
Rich bar (`cli/common.py`), tests and library users pass nothing.

A factory is called as `factory(label, total, completed)` and returns a context manager that
yields `advance(n)`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Optional

Advance = Callable[[int], None]
ProgressFactory = Callable[..., AbstractContextManager[Advance]]


def _ignore(n: int) -> None:
    return None


def bar(factory: Optional[ProgressFactory], label: str, total: int, completed: int = 0) -> AbstractContextManager[Advance]:
    """`factory`'s bar, or one that does nothing."""
    return factory(label, total, completed) if factory else nullcontext(_ignore)
