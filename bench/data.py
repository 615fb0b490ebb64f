"""`data build` against a naive in-memory pipeline on a generated corpus of 1M lines.

    python bench/data.py [--lines 1000000] [--workers 2] [--keep DIR]

The corpus: five languages (English, Swahili, French, Russian, Thai), each line two random
FLORES-200 dev sentences of that language, plus 10% exact repeats of earlier lines. Ours
runs the whole `lingualift data build` (clean with script and language ID, exact dedup,
render, shuffle, tokenise, pack into Parquet). The baseline loads every line into memory,
applies the same cleaning function, deduplicates with a set of strings and writes JSONL:
less work, so its lines/s flatter it. Peak RSS is the sum over each run's process tree,
sampled every 50 ms.
"""

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("LINGUALIFT_SHARED_DATA", ROOT.parent / "shared" / "data"))
LANGS = ["eng_Latn", "swh_Latn", "fra_Latn", "rus_Cyrl", "tha_Thai"]


def make_corpus(folder: Path, lines: int) -> list[Path]:
    rng = random.Random(0)
    files = []
    per_lang = lines // len(LANGS)
    for code in LANGS:
        sentences = (DATA / "flores200" / f"{code}.dev").read_text("utf-8").splitlines()
        unique = int(per_lang * 0.9)
        made = [f"{rng.choice(sentences)} {rng.choice(sentences)}" for _ in range(unique)]
        made += [rng.choice(made) for _ in range(per_lang - unique)]  # 10% exact repeats
        rng.shuffle(made)
        path = folder / f"{code}.txt"
        path.write_text("\n".join(made) + "\n", encoding="utf-8")
        files.append(path)
    return files


def naive(files: list[str], out: str) -> None:
    """The baseline: everything in memory, a set for dedup."""
    import json

    from lingualift.data.clean import filters, reject_reason
    from lingualift.data.config import CleanConfig
    from lingualift.data.dedup import key_text

    cfg = CleanConfig()
    checks = filters(cfg)
    records = [{"text": line, "lang": Path(f).stem} for f in files for line in Path(f).read_text("utf-8").splitlines()]
    kept = [r for r in records if reject_reason(r, cfg, checks) is None]
    seen, unique = set(), []
    for r in kept:
        key = (r["lang"], key_text(r["text"]))
        if key not in seen:
            seen.add(key)
            unique.append(r)
    Path(out).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in unique), encoding="utf-8")


def measure(cmd: list[str]) -> tuple[float, int]:
    """Wall seconds and peak summed RSS (bytes) of a command and all its children."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL)
    peak = 0
    done = threading.Event()

    def sample():
        nonlocal peak
        parent = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                tree = [parent, *parent.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.05)

    thread = threading.Thread(target=sample, daemon=True)
    start = time.perf_counter()
    thread.start()
    code = proc.wait()
    seconds = time.perf_counter() - start
    done.set()
    thread.join()
    if code:
        sys.exit(f"{cmd} failed with {code}")
    return seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", help="Keep the corpus and outputs in this folder.")
    parser.add_argument("--naive", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive:
        naive(args.naive[:-1], args.naive[-1])
        return
    if not (DATA / "flores200").is_dir():
        sys.exit(f"needs FLORES-200 dev at {DATA} (set LINGUALIFT_SHARED_DATA)")
    folder = Path(args.keep or tempfile.mkdtemp(prefix="lingualift-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    files = make_corpus(folder, args.lines)
    config = folder / "data.yaml"
    config.write_text(yaml.safe_dump({
        "sources": [{"type": "text", "path": str(f), "lang": f.stem} for f in files],
        "pack": {"tokenizer": "tiny", "block_size": 2048, "docs_per_shard": 10000},
    }))
    lingualift = [sys.executable, "-m", "lingualift"]
    ours_s, ours_rss = measure([*lingualift, "data", "build", "--config", str(config), "--out", str(folder / "ours"),
                                "--workers", str(args.workers)])
    naive_s, naive_rss = measure([sys.executable, __file__, "--naive", *map(str, files), str(folder / "naive.jsonl")])
    lines = sum(1 for f in files for _ in f.open("rb"))
    print(f"corpus: {lines} lines, {len(LANGS)} languages, 10% exact repeats; workers={args.workers}")
    print(f"| {'pipeline':<44} | {'seconds':>8} | {'lines/s':>9} | {'peak RSS MiB':>12} |")
    print(f"|{'-' * 46}|{'-' * 10}|{'-' * 11}|{'-' * 14}|")
    for name, secs, rss in (("lingualift data build (clean+dedup+pack)", ours_s, ours_rss),
                            ("naive in memory (clean+dedup, no packing)", naive_s, naive_rss)):
        print(f"| {name:<44} | {secs:8.1f} | {lines / secs:9.0f} | {rss / 2**20:12.0f} |")
    print(f"ratio ours/naive: speed {naive_s / ours_s:.2f}x, peak RSS {ours_rss / naive_rss:.2f}x")


if __name__ == "__main__":
    main()
