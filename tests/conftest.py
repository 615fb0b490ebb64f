"""Shared fixtures. Tests never download: the offline flag is forced, models are presets,
and real data is read from ../shared/data (override with LINGUALIFT_SHARED_DATA)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ["LINGUALIFT_OFFLINE"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"

SHARED = Path(os.environ.get("LINGUALIFT_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared() -> Path:
    if not (SHARED / "flores200").is_dir():
        pytest.skip(f"real data not found at {SHARED} (set LINGUALIFT_SHARED_DATA)")
    return SHARED


@pytest.fixture(scope="session")
def flores(shared) -> Path:
    return shared / "flores200"


def run_cli(*args: str, env: dict | None = None, input: str | None = None) -> subprocess.CompletedProcess:
    """The real console entry point in a subprocess: exit codes and stderr as users see them."""
    return subprocess.run([sys.executable, "-m", "lingualift", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=ROOT, input=input)
