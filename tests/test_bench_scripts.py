"""The prepared GPU script's CPU-side parts: its commands parse and its 1B model config builds."""

import os
import subprocess
import sys

from conftest import ROOT


def test_gpu_script_checks_out_without_a_gpu():
    proc = subprocess.run(["bash", "bench/gpu.sh", "--check"], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHON": sys.executable})
    assert proc.returncode == 0, proc.stderr
    assert "0.97B parameters" in proc.stdout and "CPU-side parts check out" in proc.stdout
