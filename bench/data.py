"""`data build` on datatrove against the multiprocessing engine it replaced, at 1M and 10M lines.

    python bench/data.py [--lines 1000000,10000000] [--workers 2] [--near] [--previous 42d3fa9] [--keep DIR]

The corpus: five languages (English, Swahili, French, Russian, Thai), each line two random
FLORES-200 dev sentences of that language, plus planted duplicates: 10% exact repeats of
earlier lines and 5% near repeats (an earlier line with one word dropped). Both engines run
the whole `lingualift data build` on the same config (clean with script and language ID,
exact dedup, MinHash near dedup with --near, render, shuffle, tokenise, pack into Parquet).
The previous engine is the source tree of the commit --previous (42d3fa9, the last commit
before the move to datatrove), run from a `git archive` of it with this environment; it is kept only
there. Peak RSS is the sum over each run's process tree, sampled every 50 ms.
"""

import argparse
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from io import BytesIO
from pathlib import Path

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("LINGUALIFT_SHARED_DATA", ROOT.parent / "shared" / "data"))
LANGS = ["eng_Latn", "swh_Latn", "fra_Latn", "rus_Cyrl", "tha_Thai"]


def near_copy(line: str, rng: random.Random) -> str:
    words = line.split()
    del words[rng.randrange(len(words))]
    return " ".join(words)


def make_corpus(folder: Path, lines: int) -> list[Path]:
    """Written line by line, so 10M lines never sit in this process's memory either."""
    rng = random.Random(0)
    files = []
    per_lang = lines // len(LANGS)
    for code in LANGS:
        sentences = (DATA / "flores200" / f"{code}.dev").read_text("utf-8").splitlines()
        recent: list[str] = []  # duplicates are drawn from a window of recent lines
        path = folder / f"{code}.txt"
        with path.open("w", encoding="utf-8") as out:
            for _ in range(per_lang):
                draw = rng.random()
                if recent and draw < 0.10:
                    line = rng.choice(recent)
                elif recent and draw < 0.15:
                    line = near_copy(rng.choice(recent), rng)
                else:
                    line = f"{rng.choice(sentences)} {rng.choice(sentences)}"
                    recent.append(line)
                    if len(recent) > 10_000:
                        recent.pop(rng.randrange(len(recent)))
                out.write(line + "\n")
        files.append(path)
    return files


def previous_tree(ref: str, folder: Path) -> Path:
    """The previous engine's `src/` from a commit, unpacked once."""
    target = folder / f"previous-{ref}"
    if not (target / "src" / "lingualift").is_dir():
        archive = subprocess.run(["git", "archive", ref, "src"], cwd=ROOT, capture_output=True)
        if archive.returncode:
            sys.exit(f"git archive {ref} failed: {archive.stderr.decode().strip()}"
                     " (a shallow clone lacks it: git fetch --unshallow)")
        with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
            tar.extractall(target, filter="data")
    return target / "src"


def measure(cmd: list[str], env: dict | None = None) -> tuple[float, int]:
    """Wall seconds and peak summed RSS (bytes) of a command and all its children."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, env=env)
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
    parser.add_argument("--lines", default="1000000,10000000", help="corpus sizes, comma-separated")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--near", action="store_true", help="MinHash near dedup on (off by default, as in data build)")
    parser.add_argument("--previous", default="42d3fa9",
                        help="git commit of the engine to compare against (none: this tree's only)")
    parser.add_argument("--keep", help="Keep the corpora in this folder.")
    parser.add_argument("--keep-outputs", action="store_true", help="and the builds' outputs")
    args = parser.parse_args()
    if not (DATA / "flores200").is_dir():
        sys.exit(f"needs FLORES-200 dev at {DATA} (set LINGUALIFT_SHARED_DATA)")
    folder = Path(args.keep or tempfile.mkdtemp(prefix="lingualift-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    engines = {"datatrove (this tree)": str(ROOT / "src")}
    if args.previous != "none":
        engines[f"multiprocessing ({args.previous})"] = str(previous_tree(args.previous, folder))
    rows = []
    for lines in (int(n) for n in args.lines.split(",")):
        corpus = folder / f"corpus-{lines}"
        corpus.mkdir(exist_ok=True)
        files = make_corpus(corpus, lines)
        config = corpus / "data.yaml"
        config.write_text(yaml.safe_dump({
            "sources": [{"type": "text", "path": str(f), "lang": f.stem} for f in files],
            "dedup": {"near": args.near},
            "pack": {"tokenizer": "tiny", "block_size": 2048, "docs_per_shard": 10000},
        }))
        for n, (engine, path) in enumerate(engines.items()):
            env = {**os.environ, "PYTHONPATH": path}
            out = corpus / f"out-{n}"
            seconds, rss = measure([sys.executable, "-m", "lingualift", "data", "build", "--config", str(config),
                                    "--out", str(out), "--workers", str(args.workers)], env=env)
            rows.append((lines, engine, seconds, rss))
            if not args.keep_outputs:
                shutil.rmtree(out)  # 10M lines pack into tens of GB
            print(f"{lines} lines, {engine}: {seconds:.1f} s, {rss / 2**20:.0f} MiB", file=sys.stderr, flush=True)
    print(f"5 languages, 10% exact and 5% near repeats planted; near dedup {'on' if args.near else 'off'}; "
          f"workers={args.workers}")
    print("| lines | engine | seconds | lines/s | peak RSS MiB |")
    print("|---:|---|---:|---:|---:|")
    for lines, engine, seconds, rss in rows:
        print(f"| {lines:,} | {engine} | {seconds:.1f} | {lines / seconds:.0f} | {rss / 2**20:.0f} |")
    by = {(lines, engine): (s, r) for lines, engine, s, r in rows}
    if len(engines) == 1:
        return
    new, old = engines
    for lines in sorted({r[0] for r in rows}):
        (s_new, r_new), (s_old, r_old) = by[lines, new], by[lines, old]
        print(f"{lines:,} lines, datatrove / previous: time {s_new / s_old:.2f}x, peak RSS {r_new / r_old:.2f}x")


if __name__ == "__main__":
    main()
