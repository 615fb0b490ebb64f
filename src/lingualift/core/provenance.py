"""How a result was made: the command, the versions that matter and the project's commit.

Every result file (manifests, results.json, reports) carries `provenance()`, so a number
found months later can be reproduced.
"""

from __future__ import annotations

import functools
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

# The packages whose versions change numbers: models, tokenizers, metrics, training.
PACKAGES = ("torch", "transformers", "tokenizers", "sentencepiece", "sacrebleu", "datasets", "peft", "trl",
            "accelerate")


def command() -> str:
    """The command line as the user typed it (`lingualift ...` for the console script)."""
    if Path(sys.argv[0]).name in ("lingualift", "__main__.py"):
        return " ".join(["lingualift", *sys.argv[1:]])
    return " ".join(sys.argv)


@functools.cache
def versions() -> dict[str, str]:
    from lingualift import __version__

    found = {"lingualift": __version__, "python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


@functools.cache
def git_commit() -> str | None:
    """The commit of the lingualift checkout this runs from, when it is one (editable installs)."""
    here = Path(__file__).resolve().parents[3]
    if not (here / ".git").exists():
        return None
    try:
        done = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def provenance() -> dict:
    return {"command": command(), "versions": versions(), "git_commit": git_commit(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
