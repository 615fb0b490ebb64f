"""The dev score of a merge candidate: the one number that chooses the merge weight.

- `chrf++`: each language translated from and into English on the dev lines (greedy, the
  prompt template of the settings), sacrebleu's corpus chrF++ per direction, the candidate's
  score the mean over directions; higher is better.
- `ppl`: per-character perplexity (`inference.perplexity`, comparable across tokenizers) of
  each language's dev lines, the mean over languages; lower is better.

The dev lines are read and checked (`load`) before any merge runs, so bad data costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lingualift.core.io import InputError, parse_slice
from lingualift.train.merge_config import MergeSettings


@dataclass(frozen=True)
class Dev:
    metric: str
    directions: list[tuple[str, str, list[str], list[str]]] = field(default_factory=list)  # (src, tgt, sources, refs)
    texts: dict[str, list[str]] = field(default_factory=dict)  # ppl: language -> lines

    def best(self, scores: dict[float, float]) -> float:
        """The weight with the best score (the first of equals, in the order tried)."""
        pick = min if self.metric == "ppl" else max
        return pick(scores, key=scores.__getitem__)

    def lines(self) -> int:
        return sum(len(d[2]) for d in self.directions) + sum(map(len, self.texts.values()))


def load(settings: MergeSettings, data: str, langs: list[str]) -> Dev:
    from lingualift.corpora import sources

    chosen = parse_slice(settings.dev_lines)
    if settings.metric == "ppl":
        texts = {code: sources.heldout(data, code, chosen) for code in langs}
        empty = next((code for code, lines in texts.items() if not lines), None)
        if empty:
            raise InputError(f"dev lines {settings.dev_lines} of {empty} are empty or out of range", data)
        return Dev("ppl", texts=texts)
    directions = []
    for src, tgt in sources.parse_directions("en-x,x-en", langs):
        source, reference = sources.load_pair(data, src, tgt, "dev", None)
        lines = (list(source.lines[chosen]), list(reference.lines[chosen]))
        if not lines[0]:
            raise InputError(f"dev lines {settings.dev_lines} select nothing of {src}-{tgt} "
                             f"({len(source.lines)} lines)", source.origin)
        directions.append((src, tgt, *lines))
    return Dev("chrf++", directions=directions)


def score(dev: Dev, model: Path, settings: MergeSettings, advance=lambda n: None) -> dict:
    """{"score": the candidate's number, "parts": per direction (chrf++) or language (ppl)}."""
    parts = _ppl(dev, model, settings, advance) if dev.metric == "ppl" else _chrf(dev, model, settings, advance)
    return {"score": sum(parts.values()) / len(parts), "parts": parts}


def _ppl(dev: Dev, model: Path, settings: MergeSettings, advance) -> dict[str, float]:
    from lingualift.inference import models
    from lingualift.inference.perplexity import nll

    loaded, tokenizer = models.load(str(model))
    return {code: nll(loaded, tokenizer, lines, settings.batch_size, progress=advance)["ppl_char"]
            for code, lines in dev.texts.items()}


def _chrf(dev: Dev, model: Path, settings: MergeSettings, advance) -> dict[str, float]:
    from lingualift.inference.generate import GenerationParams, load_generator
    from lingualift.inference.prompts import get_template
    from lingualift.metrics import Options
    from lingualift.metrics.chrf import chrf_pp
    from lingualift.quality import decoding

    # hf, not vllm: a vLLM engine per candidate costs a minute of start-up for a few dozen lines
    generator = load_generator(str(model), "hf")
    template = get_template(settings.template, generator.tokenizer)
    params = GenerationParams(max_new_tokens=settings.max_new_tokens, batch_size=settings.batch_size,
                              stop=template.stop)
    parts = {}
    for src, tgt, texts, refs in dev.directions:
        prompts = [template.render(text, src, tgt, []) for text in texts]
        hyps, _ = decoding.translate(generator, prompts, texts, src, tgt, params,
                                     lambda out, tgt=tgt: template.extract(out, tgt), advance)
        parts[f"{src}-{tgt}"] = chrf_pp(hyps, refs, tgt, texts, Options()).score
    return parts


def check_template(settings: MergeSettings, tokenizer) -> None:
    """The chrf++ template works with the adapted model's tokenizer and needs no examples."""
    if settings.metric != "chrf++":
        return
    from lingualift.inference.prompts import get_template

    if get_template(settings.template, tokenizer).needs_examples:
        raise InputError(f"template {settings.template} needs few-shot examples; the merge dev score uses none "
                         "(choose chat, llamax-alpaca or tower-chatml)")
