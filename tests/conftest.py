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
# Under pytest-xdist each worker (and every CLI subprocess it starts) gets its share of the
# cores: two workers with two OpenMP threads each on 2 cores spin against each other, and a
# CPU-bound test then takes 1.8x as long as the same two run one thread each (measured with
# two concurrent `train cpt` runs: 109 s against 62 s).
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    _threads = str(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, _threads)

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
