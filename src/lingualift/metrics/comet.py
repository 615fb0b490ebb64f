"""COMET through unbabel-comet, run in its own process.

unbabel-comet pins versions of transformers and torch that clash with transformers 5, so
it lives in its own environment: point `LINGUALIFT_COMET_BIN` at that environment's
`comet-score` (default: `comet-score` on PATH). The model is resolved like every hub asset.
The per-segment scores comet-score prints (`FILE\tSegment i\tscore: x`) are kept on the
score, for the paired bootstrap of --compare.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from lingualift.core import assets
from lingualift.metrics.base import Score

INSTALL_HINT = ("COMET needs unbabel-comet in its own environment: `python -m venv ~/comet && "
                "~/comet/bin/pip install unbabel-comet`, then export "
                "LINGUALIFT_COMET_BIN=~/comet/bin/comet-score")


def comet_score(hyps: list[str], refs: list[str], srcs: list[str] | None, model: str) -> Score:
    binary = os.environ.get("LINGUALIFT_COMET_BIN") or shutil.which("comet-score")
    if not binary:
        return Score("comet", None, unavailable=INSTALL_HINT)
    if srcs is None:
        return Score("comet", None, unavailable="COMET needs the source sentences (--src)")
    try:
        model_path = model if Path(model).exists() else str(assets.hub_snapshot(model) / "checkpoints" / "model.ckpt")
    except assets.AssetUnavailable as err:
        return Score("comet", None, unavailable=err.message)
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for name, lines in (("src", srcs), ("hyp", hyps), ("ref", refs)):
            files[name] = Path(tmp) / f"{name}.txt"
            files[name].write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        proc = subprocess.run(
            [binary, "-s", str(files["src"]), "-t", str(files["hyp"]), "-r", str(files["ref"]),
             "--model", model_path, "--quiet"],
            capture_output=True, text=True)
    match = re.search(r"score:\s*([-0-9.]+)\s*$", proc.stdout.strip())
    if proc.returncode != 0 or not match:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return Score("comet", None, unavailable=f"comet-score failed: {tail[0]}")
    segments = {int(i): float(x) for i, x in re.findall(r"Segment\s+(\d+)\s+score:\s*([-0-9.]+)", proc.stdout)}
    return Score("comet", float(match.group(1)), f"comet|model:{model}|bin:{Path(binary).name}",
                 segments=[segments[i] for i in range(len(hyps))] if len(segments) == len(hyps) else None)
