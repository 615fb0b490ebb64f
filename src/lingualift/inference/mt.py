"""Encoder-decoder MT models (NLLB-200, M2M-100, MADLAD-400) behind the generation interface.

They take the source text itself, not a prompt, and name languages with tokens of their own,
found here through the registry from the tokenizer's vocabulary (not the model's name):
- NLLB: FLORES-200 codes as tokens (`swh_Latn`); the tokenizer prepends the source code
  (`src_lang`) and generation starts with the target code (`forced_bos_token_id`);
- M2M-100: ISO codes as `__sw__` tokens, used the same way;
- MADLAD-400 (T5): a `<2sw>` prefix on the source text says the target.
Batches are length-sorted like the causal engine's; beams, sampling and N candidates work
the same way (`Generator.candidates` for MBR and reranking).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lingualift.core.io import InputError


@dataclass(frozen=True)
class LanguageToken:
    style: str  # nllb | m2m | madlad
    src: str | None  # the tokenizer's src_lang value (nllb, m2m)
    tgt: str  # the target's token (nllb, m2m: forced BOS; madlad: the source prefix)


def _candidates(code: str) -> list[str]:
    from lingualift.lang import languages

    lang = languages.get(code)
    return [c for c in (lang.iso639_1, lang.iso639_3, lang.macro) if c]


def language_tokens(tokenizer, src: str, tgt: str) -> LanguageToken:
    """How this model names `src` and `tgt`; an InputError when it cannot translate them."""
    vocab = tokenizer.get_vocab()
    unk = getattr(tokenizer, "unk_token_id", None)

    def has(token: str) -> bool:
        # M2M-100 keeps its language tokens beside the vocabulary: ask the tokenizer too
        if token in vocab:
            return True
        convert = getattr(tokenizer, "convert_tokens_to_ids", None)
        return convert is not None and convert(token) not in (None, unk)

    def find(code: str) -> tuple[str, str] | None:
        if has(code):
            return "nllb", code
        for c in _candidates(code):
            if has(f"__{c}__"):
                return "m2m", c
            if has(f"<2{c}>"):
                return "madlad", f"<2{c}>"
        return None

    found_tgt, found_src = find(tgt), find(src)
    if found_tgt is None:
        raise InputError(f"this MT model has no language token for {tgt} (looked for {tgt}, "
                         f"{', '.join(f'__{c}__ / <2{c}>' for c in _candidates(tgt))}): it cannot translate into it")
    style = found_tgt[0]
    if style != "madlad" and found_src is None:
        raise InputError(f"this MT model has no language token for the source {src}: it cannot translate from it")
    return LanguageToken(style, found_src[1] if found_src and style != "madlad" else None, found_tgt[1])


def check(spec: str, directions: list[tuple[str, str]]) -> None:
    """Refuse directions an encoder-decoder model cannot translate before its weights load
    (only its config and tokenizer are read; causal models pass unchecked)."""
    from transformers import AutoConfig, AutoTokenizer

    from lingualift.inference.models import resolve_spec

    directory, gguf = resolve_spec(spec)
    if gguf or not getattr(AutoConfig.from_pretrained(directory), "is_encoder_decoder", False):
        return
    tokenizer = AutoTokenizer.from_pretrained(directory)
    for src, tgt in directions:
        language_tokens(tokenizer, src, tgt)


def generate(model, tokenizer, texts: list[str], src: str, tgt: str, params, stats, progress: Callable | None,
             n: int = 1) -> list[list[str]]:
    """`n` translations of each text (samples when params.do_sample, else the beam's n best)."""
    import torch

    names = language_tokens(tokenizer, src, tgt)
    if names.style == "madlad":
        texts = [f"{names.tgt} {t}" for t in texts]
        forced = {}
    else:
        tokenizer.src_lang = names.src
        token = names.tgt if names.style == "nllb" else f"__{names.tgt}__"
        forced = {"forced_bos_token_id": tokenizer.convert_tokens_to_ids(token)}
    encoded = [tokenizer(t)["input_ids"] for t in texts]
    order = sorted(range(len(texts)), key=lambda i: -len(encoded[i]))  # longest first: OOM shows at once
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    beams = params.num_beams if params.do_sample else max(params.num_beams, n)
    sampling = {"do_sample": True, "temperature": params.temperature, "top_p": params.top_p,
                **({"epsilon_cutoff": params.epsilon} if params.epsilon else {})} \
        if params.do_sample else {"do_sample": False}
    device = next(model.parameters()).device
    torch.manual_seed(params.seed)
    outputs: list[list[str]] = [[] for _ in texts]
    for start in range(0, len(order), params.batch_size):
        idx = order[start:start + params.batch_size]
        width = max(len(encoded[i]) for i in idx)
        ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for row, i in enumerate(idx):  # encoder inputs pad on the right
            ids[row, :len(encoded[i])], mask[row, :len(encoded[i])] = torch.tensor(encoded[i]), 1
        with torch.inference_mode():
            out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device),
                                 max_new_tokens=params.max_new_tokens, num_beams=beams, num_return_sequences=n,
                                 pad_token_id=pad_id, **forced, **sampling)
        for row, i in enumerate(idx):
            for tokens in out[row * n:(row + 1) * n]:
                stats.new_tokens += int((tokens != pad_id).sum())
                outputs[i].append(" ".join(tokenizer.decode(tokens, skip_special_tokens=True).split()))
        stats.batches += 1
        if progress:
            progress(len(idx))
    return outputs
