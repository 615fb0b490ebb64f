"""`vocab expand`: new tokens, resized and initialised embeddings, an effect report, one folder.

The folder is an ordinary Hugging Face model directory (or tokenizer directory when the base
is a bare SentencePiece model) plus `manifest.json` (how it was made, the new token ids),
`new_tokens.tsv` and `effect.md`. It is written under a temporary name and renamed when
complete, so a killed run never leaves something that looks finished.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from lingualift.core.io import InputError, read_lines, write_json, write_text
from lingualift.core.provenance import provenance
from lingualift.lang import languages
from lingualift.vocab import bpe, embeddings, select
from lingualift.vocab.config import ExpandSettings
from lingualift.vocab.fertility import Segmenter, analyze_language


def _protect_lines(spec: str) -> list[str]:
    """English text whose segmentation must not change: `flores:DIR` or `hf:NAME` (its eng_Latn
    dev) or a file."""
    if spec.startswith(("flores:", "hf:")):
        from lingualift.corpora.sources import ENGLISH, load_side

        return list(load_side(spec, ENGLISH, "dev", "src").lines)
    return read_lines(spec)


def _heldout(spec: str, langs: list[str], lines: str) -> dict[str, list[str]]:
    from lingualift.corpora.sources import heldout

    out = {code: heldout(spec, code, lines) for code in langs}
    for code, text in out.items():
        if not text:
            raise InputError(f"no held-out lines for {code} in {spec} with the range {lines}")
    return out


def _segmenter(base: bpe.BaseTokenizer, name: str) -> Segmenter:
    return Segmenter(name, lambda text: base.tokenizer.encode(text, add_special_tokens=False).tokens,
                     base.config.get("unk_token") if isinstance(base.config.get("unk_token"), str) else None)


def _fingerprint(paths: list[str]) -> list[dict]:
    out = []
    for path in paths:
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        out.append({"path": str(path), "sha256": digest})
    return out


def _effect_md(manifest: dict) -> str:
    effect = manifest["effect"]
    rows = ["# Vocabulary expansion: effect", "",
            f"Base `{manifest['base']}` ({manifest['family']}), {manifest['added']} tokens added for "
            f"{', '.join(manifest['langs'])} by `{manifest['method']}`; init `{manifest['init']}`. "
            f"Vocabulary {manifest['vocab']['base']} -> {manifest['vocab']['expanded']} "
            f"(embedding rows {manifest['vocab']['rows']}).", ""]
    if effect.get("fertility"):
        rows += ["| language | tokens/word before | after | change | tokens/char before | after |",
                 "|---|---|---|---|---|---|"]
        for code, f in effect["fertility"].items():
            rows.append(f"| {code} | {f['before']['tokens_per_word']:.3f} | {f['after']['tokens_per_word']:.3f} "
                        f"| {100 * f['change']:+.1f}% | {f['before']['tokens_per_char']:.3f} "
                        f"| {f['after']['tokens_per_char']:.3f} |")
    if effect.get("perplexity"):
        models = list(next(iter(effect["perplexity"].values())))
        rows += ["", "Held-out perplexity per character (bits per byte), right after expansion:", "",
                 "| language | " + " | ".join(models) + " |", "|---" * (len(models) + 1) + "|"]
        for code, by_model in effect["perplexity"].items():
            rows.append(f"| {code} | " + " | ".join(
                f"{by_model[m]['ppl_char']:.3f} ({by_model[m]['bits_per_byte']:.3f})" for m in models) + " |")
    return "\n".join(rows) + "\n"


def expand(settings: ExpandSettings, *, model: str, corpus: list[str], langs: list[str], out: str | Path,
           overwrite: bool = False, log: Callable[[str], None] = lambda message: None) -> dict:
    """Expand `model`'s tokenizer by up to `settings.add` tokens for `langs` and save the result to `out`."""
    s = settings
    add, init, method, heldout, seed = s.add, s.init, s.method, s.heldout, s.seed
    protect, compare = s.protect, [c for c in s.compare if c]
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise InputError("output folder exists and is not empty (pass --overwrite to replace it)", out)
    langs = [languages.resolve_code(code) for code in langs]
    started = time.time()
    base, model_dir = bpe.load_base(model)
    lines = select.read_corpus(corpus, langs)
    held = _heldout(heldout, langs, s.heldout_lines) if heldout else {}
    protected_text = [line for spec in protect or [] for line in _protect_lines(spec)]
    protected = select.protected_joins(base, protected_text)
    log(f"{len(lines)} corpus lines, {len(protected_text)} protected lines; training {method} BPE")
    candidates = select.train_candidates(base, lines, add, protected, method)
    expanded, chosen, counts = select.select(base, candidates, add)
    vocab = expanded.vocab
    new_ids = [vocab[token] for token in chosen]
    log(f"{len(chosen)} tokens chosen ({counts['unreachable']} unreachable dropped)")

    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    bpe.save(expanded, tmp)
    base_vocab = base.vocab
    pieces = [[base_vocab[p.value] for p in base.tokenizer.model.tokenize(t)] for t in chosen]
    write_text(tmp / "new_tokens.tsv", "id\ttoken\ttext\tbase_pieces\n" + "".join(
        f"{i}\t{t}\t{select.token_text(base, t)!r}\t{len(p)}\n" for i, t, p in zip(new_ids, chosen, pieces)))

    effect: dict = {"fertility": {}, "perplexity": {}}
    before, after = _segmenter(base, "base"), _segmenter(expanded, "expanded")
    for code, text in held.items():
        b, a = analyze_language(before, text), analyze_language(after, text)
        effect["fertility"][code] = {"before": b, "after": a, "change": a["tokens"] / b["tokens"] - 1}

    sizes = {"base": len(base.tokenizer.get_vocab(with_added_tokens=True)),
             "expanded": len(expanded.tokenizer.get_vocab(with_added_tokens=True))}
    sizes["rows"] = sizes["expanded"]
    if model_dir is not None:
        sizes["rows"] = _expand_model(model, base, tmp, held, new_ids, pieces, init, compare, seed, s.dtype,
                                      effect["perplexity"], log)
    manifest = {
        "base": model, "family": base.family, "method": method, "langs": langs, "requested": add,
        "added": len(chosen), "init": init if model_dir is not None else None, "seed": seed,
        "new_token_ids": [new_ids[0], new_ids[-1]] if new_ids else [],
        "new_tokens_file": "new_tokens.tsv", "vocab": sizes, "selection": counts,
        "corpus": {"files": _fingerprint(corpus), "lines": len(lines)},
        "protect": {"sources": list(protect or []), "lines": len(protected_text), "joins": len(protected)},
        "heldout": {"data": heldout, "lines": s.heldout_lines} if heldout else None,
        "effect": effect, "seconds": round(time.time() - started, 2), "settings": s.model_dump(),
        **provenance(),
    }
    write_json(tmp / "manifest.json", manifest)
    write_text(tmp / "effect.md", _effect_md(manifest))
    if out.exists():
        shutil.rmtree(out)
    tmp.replace(out)
    return manifest


def _expand_model(spec: str, base: bpe.BaseTokenizer, tmp: Path, held: dict[str, list[str]], new_ids: list[int],
                  pieces: list[list[int]], init: str, compare: list[str], seed: int, dtype: str, ppl: dict, log) -> int:
    """Resize and initialise the model's embeddings, measuring held-out perplexity for the
    base and for each init on the way; save the model with `init`. Returns the row count."""
    import tempfile

    from transformers import AutoTokenizer

    from lingualift.inference import models
    from lingualift.inference.perplexity import nll

    model, _ = models.load(spec, dtype)
    with tempfile.TemporaryDirectory() as scratch:
        # The base tokenizer as lingualift converts it: transformers' own conversion of a
        # Llama tokenizer.model would score the base on other token ids.
        bpe.save(base, Path(scratch))
        base_tok = AutoTokenizer.from_pretrained(scratch)
    for code, text in held.items():
        ppl[code] = {"base": nll(model, base_tok, text)}
    new_tok = AutoTokenizer.from_pretrained(tmp)
    resized = embeddings.resize(model, len(new_tok), len(base.tokenizer.get_vocab(with_added_tokens=True)))
    for method in [m for m in dict.fromkeys([*compare, init]) if held]:
        embeddings.apply_init(model, resized, new_ids, pieces, method, seed)
        for code, text in held.items():
            ppl[code][method] = nll(model, new_tok, text)
            log(f"{code}: per-char perplexity {method} {ppl[code][method]['ppl_char']:.3f} "
                f"(base {ppl[code]['base']['ppl_char']:.3f})")
    embeddings.apply_init(model, resized, new_ids, pieces, init, seed)
    model.save_pretrained(tmp)
    return resized["rows"]
