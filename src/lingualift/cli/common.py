"""What every command module shares: the console and the progress bar it hands to libraries."""

from __future__ import annotations

from contextlib import contextmanager

from rich.console import Console

console = Console()
err_console = Console(stderr=True)


@contextmanager
def progress_bar(label: str, total: int, completed: int = 0, *, stderr: bool = False):
    """A rich bar for long work; yields `advance(n)` (a `core.progress.ProgressFactory`)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn(f"{label:<22}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=err_console if stderr else console) as progress:
        task = progress.add_task(label, total=total, completed=completed)
        yield lambda n: progress.advance(task, n)


def stderr_bar(label: str, total: int, completed: int = 0):
    """The bar on stderr, for commands whose stdout is their output."""
    return progress_bar(label, total, completed, stderr=True)
