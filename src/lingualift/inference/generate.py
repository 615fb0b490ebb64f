"""Batched generation behind one interface: `generate(prompts, params) -> list[str]`.

The hf engine sorts prompts by length so each batch pads little, pads on the left so every
row's continuation starts at the same column, and stops a row once its continuation holds a
stop string after its first non-blank character (a newline right after "### Response:" is
not the end of the answer). The vllm engine is used when vllm and a GPU are present.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from lingualift.core.io import InputError
from lingualift.inference.onednn import onednn_linear
from lingualift.inference.prompts import encode_prompts
from lingualift.inference.stopping import StopCheck, cut_at_stop


@dataclass
class GenerationParams:
    max_new_tokens: int = 256
    num_beams: int = 1
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    batch_size: int = 16
    stop: tuple[str, ...] = ("\n",)
    seed: int = 0
    epsilon: float = 0.0  # epsilon sampling (Hewitt et al. 2022): tokens below this probability are cut
    # quality-aware decoding (quality/decoding.py): standard, or mbr / rerank over `candidates`
    decoding: str = "standard"
    candidates: int = 8
    utility: str = "chrf++"
    qe_model: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class GenerationStats:
    lines: int = 0
    new_tokens: int = 0
    seconds: float = 0.0
    batches: int = 0

    @property
    def lines_per_s(self) -> float:
        return self.lines / self.seconds if self.seconds else 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.new_tokens / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "lines_per_s": round(self.lines_per_s, 3),
                "tokens_per_s": round(self.tokens_per_s, 3)}


@dataclass
class Generator:
    """A loaded model with its engine; `generate` is the only thing callers use."""

    model: object
    tokenizer: object
    engine: str = "hf"
    stats: GenerationStats = field(default_factory=GenerationStats)
    # oneDNN's packed copies of an fp32 CPU model's weights (inference/onednn.py), made on the
    # first call and kept for the generator's life: a server packs once, not per request
    packed: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def seq2seq(self) -> bool:
        """An encoder-decoder MT model (NLLB, M2M-100, MADLAD): it takes source texts, not prompts."""
        return bool(getattr(getattr(self.model, "config", None), "is_encoder_decoder", False))

    def translate(self, texts: list[str], src: str, tgt: str, params: GenerationParams, n: int = 1,
                  progress: Callable[[int], None] | None = None) -> list[list[str]]:
        """`n` translations of each source text by an encoder-decoder MT model (inference/mt.py)."""
        from lingualift.inference import mt

        start = time.perf_counter()
        outputs = mt.generate(self.model, self.tokenizer, texts, src, tgt, params, self.stats, progress, n)
        self.stats.lines += len(texts)
        self.stats.seconds += time.perf_counter() - start
        return outputs

    def generate(self, prompts: list[str], params: GenerationParams,
                 progress: Callable[[int], None] | None = None) -> list[str]:
        return [outs[0] for outs in self.candidates(prompts, params, 1, progress)]

    def candidates(self, prompts: list[str], params: GenerationParams, n: int,
                   progress: Callable[[int], None] | None = None) -> list[list[str]]:
        """`n` outputs per prompt: samples when params.do_sample, else the beam's n best
        (num_beams is raised to n where it is lower); what MBR and reranking choose from."""
        start = time.perf_counter()
        outputs = self._run(prompts, params, n, progress)
        self.stats.lines += len(prompts)
        self.stats.seconds += time.perf_counter() - start
        return outputs

    def _run(self, prompts: list[str], params: GenerationParams, n: int,
             progress: Callable[[int], None] | None = None) -> list[list[str]]:
        if self.engine == "vllm":
            return _generate_vllm(self.model, prompts, params, self.stats, n)
        if self.engine == "ct2":
            from lingualift.inference import ct2

            return ct2.generate(self.model, self.tokenizer, prompts, params, self.stats, progress, n)
        return _generate_hf(self.model, self.tokenizer, prompts, params, self.stats, progress, n, packed=self.packed)

    def stream(self, prompt: str, params: GenerationParams, on_text: Callable[[str], None],
               cancel=None) -> str:
        """`generate([prompt], params)[0]`, calling `on_text(piece)` as text becomes final, so
        the pieces join to the output's stripped text (inference/streaming.py). The same code
        path as `generate`, so greedy output is the same. `cancel` (a threading.Event) stops
        generation at the next token. vLLM's offline engine and ct2 do not stream: one piece at
        the end."""
        from lingualift.inference.streaming import TextPieces

        start = time.perf_counter()
        if self.engine in ("vllm", "ct2"):
            [[output]] = self._run([prompt], params, 1)
            pieces = None
        else:
            pieces = TextPieces(self.tokenizer, params.stop, on_text, cut_at_stop)
            [[output]] = _generate_hf(self.model, self.tokenizer, [prompt], params, self.stats, None, 1,
                                      streamer=pieces, cancel=cancel, packed=self.packed)
        final = output.strip()
        sent = pieces.sent if pieces else ""
        if final.startswith(sent) and len(final) > len(sent):
            on_text(final[len(sent):])
        self.stats.lines += 1
        self.stats.seconds += time.perf_counter() - start
        return output


class _StopOnStrings:
    """StopCheck as transformers' per-row stopping criterion (a bool tensor of shape [batch])."""

    def __init__(self, tokenizer, prompt_len: int, stop: tuple[str, ...]):
        self.check, self.prompt_len = StopCheck(tokenizer, stop), prompt_len

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        rows = input_ids[:, self.prompt_len:].tolist()
        return torch.tensor([self.check.ends(row) for row in rows], device=input_ids.device)


def _generate_hf(model, tokenizer, prompts, params, stats, progress, n: int = 1, streamer=None,
                 cancel=None, packed: dict | None = None) -> list[list[str]]:
    import torch
    from transformers import StoppingCriteriaList

    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pad_id is None:
        raise InputError("the tokenizer has neither a pad nor an EOS token; cannot batch")
    encoded = encode_prompts(tokenizer, prompts)
    # Longer than the context leaves room for: keep the end (lm-eval's left truncation; the
    # question stays, the oldest few-shot examples go).
    room = (getattr(model.config, "max_position_embeddings", None) or 0) - params.max_new_tokens
    if room > 0:
        encoded = [ids[-room:] for ids in encoded]
    order = sorted(range(len(prompts)), key=lambda i: -len(encoded[i]))  # longest first: OOM shows at once
    outputs: list[list[str]] = [[] for _ in prompts]
    beams = params.num_beams if params.do_sample else max(params.num_beams, n)
    device = next(model.parameters()).device
    torch.manual_seed(params.seed)
    for start in range(0, len(order), params.batch_size):
        idx = order[start:start + params.batch_size]
        width = max(len(encoded[i]) for i in idx)
        ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for row, i in enumerate(idx):
            ids[row, width - len(encoded[i]):] = torch.tensor(encoded[i])
            mask[row, width - len(encoded[i]):] = 1
        criteria = StoppingCriteriaList([_StopOnStrings(tokenizer, width, params.stop)] if params.stop else [])
        if cancel is not None:
            from lingualift.inference.streaming import StopWhenSet

            criteria.append(StopWhenSet(cancel))
        sampling = {"do_sample": True, "temperature": params.temperature, "top_p": params.top_p,
                    **({"epsilon_cutoff": params.epsilon} if params.epsilon else {})} \
            if params.do_sample else {"do_sample": False}
        with torch.inference_mode(), onednn_linear(model, packed):
            if beams == 1 and n == 1 and not params.do_sample and streamer is None:
                new = _greedy_pruned(model, ids.to(device), mask.to(device), width, params, criteria, pad_id)
            else:
                ids, mask = ids.to(device), mask.to(device)
                cache = prefill_once(model, ids, mask, beams if beams > 1 else n) if streamer is None else None
                new = model.generate(
                    input_ids=ids, attention_mask=mask,
                    max_new_tokens=params.max_new_tokens, num_beams=beams, num_return_sequences=n,
                    pad_token_id=pad_id, stopping_criteria=criteria or None, **sampling,
                    **({"streamer": streamer} if streamer is not None else {}),
                    **({"cache": cache} if cache is not None else {}),
                )[:, width:]
        for row, i in enumerate(idx):
            for tokens in new[row * n:(row + 1) * n]:
                stats.new_tokens += int((tokens != pad_id).sum())
                outputs[i].append(cut_at_stop(tokenizer.decode(tokens, skip_special_tokens=True), params.stop))
        stats.batches += 1
        if progress:
            progress(len(idx))
    return outputs


def prefill_once(model, ids, mask, copies: int):
    """The KV cache of every prompt but its last token, computed once and repeated `copies`
    times, as `generate` lays out its beams (or samples) row by row.

    `generate` repeats each prompt once per beam before its first forward pass, so at beam 4 it
    computes every prompt four times: a fifth of `eval translate`'s time at beam 4 on
    SmolLM2-135M (bench/generation.py --profile). Given this cache, it runs the last token
    only. Positions are `generate`'s own (from the attention mask), so outputs stay the same."""
    if copies < 2 or ids.shape[1] < 2:
        return None
    positions = mask.long().cumsum(-1) - 1
    positions.masked_fill_(mask == 0, 1)
    cache = model(input_ids=ids[:, :-1], attention_mask=mask[:, :-1], position_ids=positions[:, :-1],
                  use_cache=True, logits_to_keep=1).cache
    cache.batch_repeat_interleave(copies)
    return cache


# Finished rows leave a greedy batch every this many new tokens. transformers keeps a finished
# row in the batch, computing pad tokens, until the batch's longest row ends, and on a CPU a
# step's cost grows with its rows. The gain is as large as the rows' lengths differ: 1.04x-1.08x
# for a base model that loops to the limit on most lines (bench/pruning.py). 16: a new
# `generate` call per 16 tokens costs little beside 16 decoding steps.
PRUNE_EVERY = 16


def _greedy_pruned(model, ids, mask, width: int, params, criteria, pad_id: int):
    """Greedy `generate` in rounds of PRUNE_EVERY tokens; between rounds the rows that ended
    (EOS or a stopping criterion, found as `generate` finds them) leave the batch and its KV
    cache (`batch_select_indices`), and the rest continue from the cache. Greedy decoding is
    per row, so each row gets the tokens one `generate` over the whole batch gives it; the
    result is padded with `pad_id` as `generate` pads: [rows, new tokens]."""
    import torch

    eos = model.generation_config.eos_token_id
    eos = set(eos if isinstance(eos, list) else [] if eos is None else [eos])
    rows = list(range(ids.shape[0]))
    done: dict[int, torch.Tensor] = {}
    cache, made = None, 0
    while rows:
        start = ids.shape[1]
        out = model.generate(input_ids=ids, attention_mask=mask, cache=cache,
                             max_new_tokens=min(PRUNE_EVERY, params.max_new_tokens - made), do_sample=False,
                             num_beams=1, pad_token_id=pad_id, stopping_criteria=criteria or None,
                             return_dict_in_generate=True)
        ids, cache = out.sequences, out.cache
        made += ids.shape[1] - start
        keep = []
        for r, row in enumerate(rows):
            if made < params.max_new_tokens and not _ended(ids[r], start, criteria, eos):
                keep.append(r)
            else:
                done[row] = ids[r, width:]
        if not keep:
            break
        if len(keep) < len(rows):
            select = torch.tensor(keep, device=ids.device)
            cache.batch_select_indices(select)
            ids, mask = ids[select], mask[select]
        rows = [rows[r] for r in keep]
        # a running row has no pad among its new tokens: they all count
        mask = torch.cat([mask, torch.ones(len(rows), ids.shape[1] - mask.shape[1], dtype=mask.dtype,
                                           device=mask.device)], dim=1)
    padded = torch.full((len(done), max(len(t) for t in done.values())), pad_id, dtype=torch.long, device=ids.device)
    for row, tokens in done.items():
        padded[row, :len(tokens)] = tokens
    return padded


def _ended(sequence, start: int, criteria, eos: set[int]) -> bool:
    """Whether `generate` finished this row among its tokens from `start` on: at an EOS token
    or where a stopping criterion holds (after which it pads)."""
    for end in range(start, len(sequence)):
        if int(sequence[end]) in eos or any(bool(c(sequence[None, :end + 1], None)[0]) for c in criteria):
            return True
    return False


def _generate_vllm(llm, prompts, params, stats, n: int = 1) -> list[list[str]]:
    from vllm import SamplingParams

    # vLLM's own stop strings would end a row at a newline before the answer starts, so
    # rows run to max_tokens / EOS and are cut afterwards.
    if params.num_beams > 1 or (n > 1 and not params.do_sample):
        from vllm.sampling_params import BeamSearchParams

        results = llm.beam_search([{"prompt": p} for p in prompts], BeamSearchParams(
            beam_width=max(params.num_beams, n), max_tokens=params.max_new_tokens))
        texts = [[s.text for s in r.sequences[:n]] for r in results]
    else:
        sampling = SamplingParams(
            n=n, max_tokens=params.max_new_tokens, seed=params.seed,
            temperature=params.temperature if params.do_sample else 0.0, top_p=params.top_p)
        results = llm.generate(prompts, sampling, use_tqdm=False)
        texts = [[o.text for o in r.outputs] for r in results]
        stats.new_tokens += sum(len(o.token_ids) for r in results for o in r.outputs)
    return [[cut_at_stop(t, params.stop) for t in row] for row in texts]


def vllm_available() -> bool:
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        return False
    import torch

    return torch.cuda.is_available()


def load_generator(spec: str, engine: str = "auto", dtype: str = "auto") -> Generator:
    """A Generator for a model spec; `auto` picks vllm when it can run, else hf. ct2 is asked for
    by name: it is the fastest at beam search on CPUs, and with int8 weights (inference/ct2.py),
    but its float arithmetic is not torch's and its beam search stops earlier, so it is not
    swapped in unasked."""
    from lingualift.inference import models

    if engine == "auto":
        engine = "vllm" if vllm_available() else "hf"
    if engine == "vllm":
        if not vllm_available():
            raise InputError("engine vllm needs `pip install vllm` and a CUDA GPU")
        from vllm import LLM

        if dtype == "int8":
            raise InputError("dtype int8 is the ct2 engine's; vllm takes auto, bf16, fp16 or fp32")
        directory, gguf = models.resolve_spec(spec)
        llm = LLM(model=str(directory / gguf) if gguf else str(directory),
                  dtype="auto" if dtype == "auto" else {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}[dtype])
        return Generator(llm, llm.get_tokenizer(), "vllm")
    if engine == "ct2":
        from lingualift.inference import ct2

        directory, gguf = models.resolve_spec(spec)
        if gguf:
            raise InputError("engine ct2 converts Hugging Face model directories, not GGUF files; use --engine hf",
                             directory / gguf)
        model, tokenizer = ct2.load(directory, dtype)
        return Generator(model, tokenizer, "ct2")
    if engine != "hf":
        raise InputError(f"unknown engine {engine!r}; choose auto, hf, vllm or ct2")
    model, tokenizer = models.load(spec, dtype=dtype)
    if not getattr(model.config, "is_encoder_decoder", False):
        tokenizer.padding_side = "left"
    return Generator(model, tokenizer, "hf")
