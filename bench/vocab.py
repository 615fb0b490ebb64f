"""Vocabulary expansion: time to add 8k and 25k tokens, and what each does to fertility.

    python bench/vocab.py [--tokenizer PATH_OR_SPEC] [--langs swh_Latn,tha_Thai]

Two expansions of the Llama-2 tokenizer (default), both by lingualift's `continue` method
(BPE merges learned on the base's own segmentation) and by the `fresh` baseline
(SambaLingo's way: a target tokenizer trained from scratch, its new tokens appended):
- 8k:  Swahili + Thai, corpus = Tatoeba + the first 500 FLORES dev lines of each;
- 25k: the same plus the first 500 FLORES dev lines of every other FLORES-200 language
       (a LLaMAX-scale multilingual expansion).
Fertility is tokens per word on the other 497 FLORES dev lines (not learned from); English
FLORES lines that segment differently are counted too (English FLORES is protected).
Prints seconds per expansion and the fertility table, with ours / fresh ratios.

    python bench/vocab.py --tokenizer gemma3-270m --add 2000

With --add: one `continue` expansion for Swahili (corpus as above, English FLORES
protected), printed as one README row: tokens added, Swahili tokens per word before and
after on FLORES dev lines 500+, English lines changed, seconds (tokenizer only: loading the
base, protecting English, training, selecting). Any tokenizer spec `vocab expand` takes.
"""

import argparse
import os
import sys
import time
from pathlib import Path

from lingualift.core.io import read_lines
from lingualift.vocab import bpe, select

DATA = Path(os.environ.get("LINGUALIFT_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
HALF = 500
TATOEBA = {"swh_Latn": "eng-swa/tatoeba-test-v2021-08-07.swa", "tha_Thai": "eng-tha/tatoeba-test-v2021-08-07.tha"}
SHOWN = ["swh_Latn", "tha_Thai", "amh_Ethi", "hin_Deva", "yor_Latn", "kor_Hang", "deu_Latn", "eng_Latn"]


def flores(code: str) -> list[str]:
    return read_lines(DATA / "flores200" / f"{code}.dev")


def tokens(tok, lines: list[str]) -> int:
    return sum(len(e.ids) for e in tok.encode_batch(lines, add_special_tokens=False))


def expand(base, lines: list[str], n: int, protected: set[str], method: str):
    start = time.perf_counter()
    candidates = select.train_candidates(base, lines, n, protected, method)
    expanded, chosen, _ = select.select(base, candidates, n)
    return expanded, len(chosen), time.perf_counter() - start


def one_row(spec: str, n: int) -> None:
    start = time.perf_counter()
    base, _ = bpe.load_base(spec)
    english = flores("eng_Latn")
    code = "swh_Latn"
    lines = read_lines(DATA / "tatoeba" / TATOEBA[code]) + flores(code)[:HALF]
    expanded, added, _ = expand(base, lines, n, select.protected_joins(base, english), "continue")
    seconds = time.perf_counter() - start
    held = flores(code)[HALF:]
    words = sum(len(line.split()) for line in held)
    before, after = tokens(base.tokenizer, held) / words, tokens(expanded.tokenizer, held) / words
    changed = sum(a.tokens != b.tokens for a, b in zip(base.tokenizer.encode_batch(english, add_special_tokens=False),
                                                      expanded.tokenizer.encode_batch(english, add_special_tokens=False)))
    print("| base | family | tokens added | Swahili tokens/word before | after | English lines changed | seconds |")
    print(f"| {Path(spec).name} | {base.family} | {added} | {before:.3f} | {after:.3f} ({100 * (after / before - 1):+.1f}%) "
          f"| {changed} | {seconds:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokenizer", default=str(DATA / "tokenizers" / "llama2-tokenizer.model"))
    parser.add_argument("--add", type=int, help="one Swahili expansion of at most this many tokens")
    args = parser.parse_args()
    if not (DATA / "flores200").is_dir():
        sys.exit(f"needs FLORES-200 dev at {DATA / 'flores200'} (set LINGUALIFT_SHARED_DATA)")
    if args.add:
        return one_row(args.tokenizer, args.add)
    base, _ = bpe.load_base(args.tokenizer)
    english = flores("eng_Latn")
    protected = select.protected_joins(base, english)
    targets = [line for code, path in TATOEBA.items() for line in read_lines(DATA / "tatoeba" / path) + flores(code)[:HALF]]
    others = [line for path in sorted((DATA / "flores200").glob("*.dev"))
              if path.stem not in TATOEBA and path.stem != "eng_Latn" for line in read_lines(path)[:HALF]]
    runs = {"8k": (targets, 8000), "25k": (targets + others, 25000)}
    held = {code: flores(code)[HALF:] for code in SHOWN}
    before = {code: tokens(base.tokenizer, lines) for code, lines in held.items()}
    words = {code: sum(len(line.split()) for line in lines) for code, lines in held.items()}

    results = {}
    for name, (lines, n) in runs.items():
        for method in ("continue", "fresh"):
            expanded, added, seconds = expand(base, lines, n, protected, method)
            after = {code: tokens(expanded.tokenizer, text) for code, text in held.items()}
            changed = sum(a.tokens != b.tokens for a, b in zip(
                base.tokenizer.encode_batch(english, add_special_tokens=False),
                expanded.tokenizer.encode_batch(english, add_special_tokens=False)))
            results[name, method] = {"added": added, "seconds": seconds, "after": after, "english_changed": changed}
            print(f"{name} {method}: {added} tokens from {len(lines)} lines in {seconds:.1f} s", flush=True)

    print(f"\nbase {Path(args.tokenizer).name}; tokens per word on FLORES dev lines {HALF}+ (change vs base)\n")
    header = "| language | base | " + " | ".join(f"{n} {m}" for n, m in results) + " |"
    print(header + "\n" + "|---" * (len(results) + 2) + "|")
    for code in SHOWN:
        cells = [f"{results[key]['after'][code] / words[code]:.2f} "
                 f"({100 * (results[key]['after'][code] / before[code] - 1):+.0f}%)"
                 for key in results]
        print(f"| {code} | {before[code] / words[code]:.2f} | " + " | ".join(cells) + " |")
    print("| tokens added | | " + " | ".join(str(r["added"]) for r in results.values()) + " |")
    print("| seconds | | " + " | ".join(f"{r['seconds']:.1f}" for r in results.values()) + " |")
    print("| English lines changed | | " + " | ".join(str(r["english_changed"]) for r in results.values()) + " |")
    for name in runs:
        ours, fresh = results[name, "continue"], results[name, "fresh"]
        saved = {m: 1 - sum(results[name, m]["after"][c] for c in TATOEBA) / sum(before[c] for c in TATOEBA)
                 for m in ("continue", "fresh")}
        print(f"{name}: Swahili+Thai tokens saved, ours {100 * saved['continue']:.1f}% vs fresh {100 * saved['fresh']:.1f}% "
              f"(ratio {saved['continue'] / saved['fresh']:.2f}); time ours {ours['seconds']:.1f} s vs fresh "
              f"{fresh['seconds']:.1f} s (ratio {ours['seconds'] / fresh['seconds']:.2f})")


if __name__ == "__main__":
    main()
