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


def _run(hyps: list[str], refs: list[str] | None, srcs: list[str], model: str) -> tuple[str | None, str | None]:
    """comet-score's stdout, or (None, why it is unavailable). Without refs a QE model
    (COMET-Kiwi) scores source and hypothesis alone."""
    binary = os.environ.get("LINGUALIFT_COMET_BIN") or shutil.which("comet-score")
    if not binary:
        return None, INSTALL_HINT
    try:
        model_path = model if Path(model).exists() else str(assets.hub_snapshot(model) / "checkpoints" / "model.ckpt")
    except assets.AssetUnavailable as err:
        return None, err.message
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for name, lines in (("src", srcs), ("hyp", hyps), ("ref", refs)):
            if lines is not None:
                files[name] = Path(tmp) / f"{name}.txt"
                files[name].write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        args = [binary, "-s", str(files["src"]), "-t", str(files["hyp"]), "--model", model_path, "--quiet"]
        proc = subprocess.run(args + (["-r", str(files["ref"])] if "ref" in files else []),
                              capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return None, f"comet-score failed: {tail[0]}"
    return proc.stdout, None


def comet_score(hyps: list[str], refs: list[str], srcs: list[str] | None, model: str) -> Score:
    if srcs is None:
        return Score("comet", None, unavailable="COMET needs the source sentences (--src)")
    out, why = _run(hyps, refs, srcs, model)
    match = re.search(r"score:\s*([-0-9.]+)\s*$", out.strip()) if out else None
    if not match:
        return Score("comet", None, unavailable=why or "comet-score printed no system score")
    binary = os.environ.get("LINGUALIFT_COMET_BIN") or shutil.which("comet-score")
    return Score("comet", float(match.group(1)), f"comet|model:{model}|bin:{Path(binary).name}",
                 segments=_segments(out, len(hyps)))


def _segments(out: str, n: int) -> list[float] | None:
    found = {int(i): float(x) for i, x in re.findall(r"Segment\s+(\d+)\s+score:\s*([-0-9.]+)", out)}
    return [found[i] for i in range(n)] if len(found) == n and set(found) == set(range(n)) else None


def segment_scores(hyps: list[str], refs: list[str] | None, srcs: list[str], model: str) -> list[float] | None:
    """One COMET (or, without refs, COMET-Kiwi QE) score per segment, or None when unavailable."""
    out, _ = _run(hyps, refs, srcs, model)
    return _segments(out, len(hyps)) if out else None
