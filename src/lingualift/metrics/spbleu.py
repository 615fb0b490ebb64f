"""spBLEU: BLEU over sacrebleu's FLORES-101 / FLORES-200 SentencePiece segmentation.

The model file comes from sacrebleu's cache or `--spm-model`, through the asset resolver;
when it is missing the score is unavailable with the file to fetch, never replaced by
another tokenizer's number.
"""

from __future__ import annotations

from collections.abc import Callable

from lingualift.core import assets
from lingualift.metrics.base import Score


def metric(flavour: str, options):
    """sacrebleu's BLEU with its own SPM tokenizer (same __call__ and signature), loaded from
    a given file, since sacrebleu reads its model directory once at import."""
    from sacrebleu.metrics import BLEU
    from sacrebleu.tokenizers.tokenizer_spm import TokenizerSPM

    path = assets.spm_model(flavour, options.spm_model)

    class FileSPM(TokenizerSPM):
        def __init__(self):
            import sentencepiece

            self.name = flavour
            self.sp = sentencepiece.SentencePieceProcessor(model_file=str(path))

    m = BLEU(tokenize="none")
    m.tokenizer = FileSPM()
    m.tokenizer_signature = m.tokenizer.signature()
    return m


def spbleu(flavour: str) -> Callable:
    def compute(hyps, refs, tgt, srcs, options) -> Score:
        name = f"spbleu_{flavour}"
        try:
            m = metric(flavour, options)
        except assets.AssetUnavailable as err:
            return Score(name, None, unavailable=err.message)
        return Score(name, m.corpus_score(hyps, [refs]).score, str(m.get_signature()))
    return compute
