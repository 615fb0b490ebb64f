"""The ct2 engine: CTranslate2's C++ decoder behind `Generator`, for fast generation on CPUs.

CTranslate2 converts a Llama-family (or other decoder) Hugging Face checkpoint once into its
own format (kept in lingualift's cache, keyed by the checkpoint's files) and decodes without
Python in the loop. On this project's 2-core CPU (`python bench/generation.py --llamax --lines
64 --engines hf,ct2,ct2:int8 --repeats 2`, SmolLM2-135M, 2026-12-07) it ran beam 4 at 3.41x
LLaMAX's evaluation loop in float32 and 4.26x with int8 weights (`--dtype int8`), at a chrF++
not significantly different from what LLaMAX's scripts score, where the hf engine ran at 2.06x
(higher chrF++); greedy decoding at 2.83x with the hf engine's outputs (the hf engine, on
oneDNN with packed weights, 3.42x).

The stop rule is the hf engine's: a row ends at the first stop string after its first
non-blank character. Greedy decoding checks it per token (CTranslate2's callback, which ends
one row) and gives the hf engine's outputs. Beam search cannot check per token, so its
hypotheses end at any token that holds a whole stop string (a stop of several tokens only cuts
the text afterwards). So that the newline Alpaca models write right after "### Response:" does
not end every hypothesis at once, the blank tokens a row's greedy decoding starts with are
taken into its prompt before the search (where the hf engine's beams would each keep their own
first token, this keeps greedy's when it is blank), and a row whose best hypothesis is still
blank is searched again with that blank in its prompt. A prompt header that every row of a
batch shares is CTranslate2's static prompt, computed once instead of once per row and beam.
CTranslate2's beam search ends a line once num_beams hypotheses are finished: transformers'
`early_stopping=True`, whose outputs it gives (tests/test_ct2.py), not transformers' default,
which searches on while a running hypothesis could still win. Sampling is left to the hf
engine: CTranslate2 seeds one random generator per thread, once, so a seed cannot be set
per call and sampled candidates could not be reproduced.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lingualift.core.assets import cache_dir
from lingualift.core.io import InputError

# Our dtype names in CTranslate2's compute types ("default": the converted weights' own type).
COMPUTE_TYPES = {"auto": "default", "fp32": "float32", "bf16": "bfloat16", "fp16": "float16", "int8": "int8"}


def _import():
    try:
        import ctranslate2
    except ImportError:
        raise InputError("engine ct2 needs CTranslate2: pip install 'lingualift[ct2]'") from None
    return ctranslate2


def converted(directory: Path) -> Path:
    """The CTranslate2 copy of a Hugging Face model directory, converted on first use.

    Keyed by the path and the size and time of every weight file, so a retrained model in the
    same folder is converted again; written to a temporary folder and renamed, so a killed
    conversion leaves nothing that looks finished."""
    ctranslate2 = _import()
    stamp = [str(directory.resolve())] + [f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
                                          for p in sorted(directory.iterdir()) if p.is_file()]
    target = cache_dir() / "ct2" / f"{directory.name}-{hashlib.sha256(''.join(stamp).encode()).hexdigest()[:12]}"
    if (target / "model.bin").is_file():
        return target
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        ctranslate2.converters.TransformersConverter(str(directory)).convert(str(tmp))
    except (ValueError, NotImplementedError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise InputError(f"CTranslate2 cannot convert this model ({exc}); use --engine hf", directory) from None
    if target.exists():  # another process converted it meanwhile
        shutil.rmtree(tmp)
    else:
        tmp.replace(target)
    return target


@dataclass
class Ct2Model:
    """What `Generator.model` holds for this engine: the decoder and the context it was trained for."""

    decoder: object
    context: int


def load(directory: Path, dtype: str = "auto"):
    """(Ct2Model, tokenizer) for a Hugging Face model directory."""
    import torch
    from transformers import AutoTokenizer

    ctranslate2 = _import()
    device = "cuda" if ctranslate2.get_cuda_device_count() else "cpu"
    try:
        # torch's thread count: OMP_NUM_THREADS and the tests' one-thread setting hold here too
        model = ctranslate2.Generator(str(converted(directory)), device=device, compute_type=COMPUTE_TYPES[dtype],
                                      intra_threads=torch.get_num_threads())
    except ValueError as exc:  # a compute type this device lacks (bf16 on most CPUs)
        raise InputError(f"engine ct2 on {device}: {exc}") from None
    tokenizer = AutoTokenizer.from_pretrained(directory)
    tokenizer.padding_side = "left"
    context = json.loads((directory / "config.json").read_text("utf-8")).get("max_position_embeddings") or 0
    return Ct2Model(model, context), tokenizer


def generate(model: Ct2Model, tokenizer, prompts: list[str], params, stats, progress: Callable | None,
             n: int = 1) -> list[list[str]]:
    """`n` outputs per prompt, as `Generator.candidates` returns them (inference/generate.py)."""
    from lingualift.inference.prompts import encode_prompts
    from lingualift.inference.stopping import StopCheck, cut_at_stop

    if params.do_sample:
        raise InputError("engine ct2 cannot seed sampling per call, so its samples could not be reproduced; "
                         "use --engine hf for sampling")
    encoded = encode_prompts(tokenizer, prompts)
    room = model.context - params.max_new_tokens
    if room > 0:  # the hf engine's left truncation
        encoded = [ids[-room:] for ids in encoded]
    eos = tokenizer.eos_token_id
    order = sorted(range(len(prompts)), key=lambda i: -len(encoded[i]))
    outputs: list[list[str]] = [[] for _ in prompts]
    beam = max(params.num_beams, n) > 1
    for start in range(0, len(order), params.batch_size):
        idx = order[start:start + params.batch_size]
        if beam:
            made = _beam(model.decoder, tokenizer, [encoded[i] for i in idx], params, n, eos)
        else:
            made = [[ids] for ids in _greedy(model.decoder, tokenizer, [encoded[i] for i in idx], params, StopCheck)]
        for i, rows in zip(idx, made):
            stats.new_tokens += sum(len(ids) for ids in rows)
            outputs[i] = [cut_at_stop(tokenizer.decode(ids, skip_special_tokens=True), params.stop) for ids in rows]
        stats.batches += 1
        if progress:
            progress(len(idx))
    return outputs


def _decode(decoder, tokenizer, prompts: list[list[int]], on_token: Callable | None = None, **options) -> list:
    """`decoder.generate_batch` over `prompts`, results in their order; `on_token(row, step)`
    for each generated token where given (returning True ends that row).

    A batch that holds a one-token prompt beside longer ones makes CTranslate2 4.8 return the
    longer prompts' tokens as their output, so one-token prompts are decoded apart."""
    results: list = [None] * len(prompts)
    for rows in ([i for i, p in enumerate(prompts) if len(p) == 1], [i for i, p in enumerate(prompts) if len(p) > 1]):
        if not rows:
            continue
        callback = {"callback": lambda step, rows=rows: on_token(rows[step.batch_id], step)} if on_token else {}
        tokens = [tokenizer.convert_ids_to_tokens(prompts[i]) for i in rows]
        shared = _shared_prefix(tokens)
        if shared:  # computed once and kept by CTranslate2, not once per row and beam
            options["static_prompt"], tokens = tokens[0][:shared], [t[shared:] for t in tokens]
        made = decoder.generate_batch(tokens, **options, **callback)
        for row, result in zip(rows, made):
            results[row] = result
    return results


def _shared_prefix(tokens: list[list[str]]) -> int:
    """How many leading tokens every prompt of a batch shares (an instruction template's
    header), leaving each at least one of its own: CTranslate2's static prompt, whose state it
    computes once and caches across calls, where beam search would otherwise run every prompt
    token once per beam (the prefill of a batch of LLaMAX's Alpaca prompts at beam 4 took
    2.4x the time of beam 1 on this CPU)."""
    if len(tokens) < 2:
        return 0
    shortest = min(map(len, tokens)) - 1
    n = 0
    while n < shortest and all(t[n] == tokens[0][n] for t in tokens):
        n += 1
    return n


def _greedy(decoder, tokenizer, prompts: list[list[int]], params, stop_check) -> list[list[int]]:
    """Greedy rows, each ended by the stop rule as it is met."""
    made: list[list[int]] = [[] for _ in prompts]
    check = stop_check(tokenizer, params.stop)

    def on_token(row: int, step) -> bool:
        made[row].append(step.token_id)
        return bool(params.stop) and check.ends(made[row])

    _decode(decoder, tokenizer, prompts, on_token, beam_size=1, max_length=params.max_new_tokens,
            include_prompt_in_result=False)
    eos = tokenizer.eos_token_id
    return [ids[:-1] if ids and ids[-1] == eos else ids for ids in made]


def _stop_tokens(tokenizer, stop: tuple[str, ...]) -> list[int]:
    """Every token id whose text holds a whole stop string: where a beam hypothesis may end."""
    cached = getattr(tokenizer, "_lingualift_stop_tokens", None)
    if cached and cached[0] == stop:
        return cached[1]
    ids = [i for i in range(len(tokenizer)) if any(s in tokenizer.decode([i]) for s in stop if s)]
    tokenizer._lingualift_stop_tokens = (stop, ids)
    return ids


def _leading_blanks(decoder, tokenizer, prompts: list[list[int]], limit: int) -> list[list[int]]:
    """The blank tokens (newlines, spaces) each row's greedy decoding starts with: one pass at
    one beam, each row ended by its first token of text."""
    made: list[list[int]] = [[] for _ in prompts]

    def blank(token: int) -> bool:  # EOS, special and unknown ids decode to nothing: not blank
        text = tokenizer.decode([token], skip_special_tokens=True)
        return bool(text) and not text.strip()

    def on_token(row: int, step) -> bool:
        made[row].append(step.token_id)
        return not blank(step.token_id)

    # one token short of the limit, so that the search after it has a token to make
    _decode(decoder, tokenizer, prompts, on_token, beam_size=1, max_length=limit - 1, include_prompt_in_result=False)
    return [ids if all(map(blank, ids)) else ids[:-1] for ids in made]


def _beam(decoder, tokenizer, prompts: list[list[int]], params, n: int, eos) -> list[list[list[int]]]:
    """The n best of a beam search per prompt. With a stop string, the blank a row's greedy
    decoding starts with is taken into its prompt first (one pass at one beam: a search of its
    own would run every beam to its end); a row whose best hypothesis is still blank is searched
    again from after that blank, until it holds text or the token limit is reached."""
    ends = sorted(set(_stop_tokens(tokenizer, params.stop)) | ({eos} if eos is not None else set()))
    beams = max(params.num_beams, n)
    # leading blank tokens taken into the prompt
    blank = _leading_blanks(decoder, tokenizer, prompts, params.max_new_tokens) \
        if params.stop and params.max_new_tokens > 1 else [[] for _ in prompts]
    done: dict[int, list[list[int]]] = {}
    todo = list(range(len(prompts)))
    while todo:
        by_length: dict[int, list[int]] = {}
        for r in todo:
            by_length.setdefault(len(blank[r]), []).append(r)
        todo = []
        for taken, rows in by_length.items():
            results = _decode(
                decoder, tokenizer, [prompts[r] + blank[r] for r in rows], beam_size=beams, num_hypotheses=n,
                max_length=params.max_new_tokens - taken, include_prompt_in_result=False, end_token=ends,
                return_end_token=True)
            for r, result in zip(rows, results):
                best = result.sequences_ids[0]
                stopped = bool(best) and best[-1] in ends and best[-1] != eos
                if stopped and not tokenizer.decode(best, skip_special_tokens=True).strip() \
                        and taken + len(best) < params.max_new_tokens:
                    blank[r] = blank[r] + best
                    todo.append(r)
                else:
                    done[r] = [blank[r] + [t for t in ids if t != eos] for ids in result.sequences_ids]
    return [done[r] for r in range(len(prompts))]
