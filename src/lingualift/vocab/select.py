"""Choose new tokens for target languages and add them as real BPE vocabulary.

Two ways to train them, both ranked by how much they shorten the target text:
`continue` (default) learns BPE merges on top of the base's own segmentation, so each merge
is the one that saves most tokens over the base at that point and every token is
reachable; `fresh` is SambaLingo's recipe, a target tokenizer of the base's family trained
from scratch, whose tokens the base lacks are kept in merge order. `tokenizer.add_tokens()`
is never used: added tokens skip normalisation and BPE, break spacing on decode and never
combine with byte fallback.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from lingualift.core.io import InputError, batched, iter_lines
from lingualift.core.records import parse_line
from lingualift.lang.languages import resolve_code
from lingualift.lang.scripts import char_script
from lingualift.vocab.bpe import BYTE_LEVEL, SENTENCEPIECE, BaseTokenizer, add_tokens, unreachable

# A target tokenizer twice the requested size leaves room for the tokens the base already
# has (a third to a half of a Latin-script target vocabulary is shared with Llama-2's).
_TRAIN_FACTOR = 2
# Private-use planes 15 and 16 (less their two non-characters each): one character per base
# token the target text uses, for BpeTrainer, which learns merges over characters.
_PRIVATE_USE = [chr(c) for plane in (0xF0000, 0x100000) for c in range(plane, plane + 0xFFFE)]
# How often the selection is redone after dropping tokens BPE cannot reach; one pass drops
# nearly all of them, the second catches tokens whose only path went through a dropped one.
_ROUNDS = 3


def read_corpus(paths: list[str], langs: list[str]) -> list[str]:
    """Target-language lines: every line of a text file, or from JSONL the records
    (DESIGN.md formats) whose language is one of `langs`, both sides of parallel ones."""
    lines: list[str] = []
    for path in paths:
        jsonl = Path(path).name.split(".")[-1] == "jsonl" or ".jsonl." in Path(path).name
        for number, text, error in iter_lines(path):
            if error:
                raise InputError(error, path, number)
            if not jsonl:
                lines.append(text)
                continue
            if not text.strip():
                continue
            try:
                record, problem = parse_line(text)
                if problem:
                    raise ValueError(problem)
                if "src" in record:
                    lines += [record[side] for side in ("src", "tgt") if resolve_code(record[f"{side}_lang"]) in langs]
                elif resolve_code(record["lang"]) in langs:
                    lines.append(record["text"])
            except (ValueError, KeyError, TypeError, InputError):
                raise InputError("expected a JSON record with text+lang or src/tgt/src_lang/tgt_lang",
                                 path, number) from None
    lines = [line for line in lines if line.strip()]
    if not lines:
        raise InputError(f"no text for {', '.join(langs)} in the corpus", paths[0] if paths else None)
    return lines


def _new_characters(base: BaseTokenizer, lines: list[str], protected: set[str]) -> list[str]:
    """Characters of the target text that a SentencePiece base spells in bytes, most frequent
    first (seen at least twice): one token each saves up to three byte tokens, and pieces
    built from them need them first. Byte-level bases already have every byte."""
    if base.family != SENTENCEPIECE:
        return []
    vocab = base.vocab
    counts = Counter(ch for line in lines for ch in base.normalize(line))
    return [ch for ch, c in counts.most_common() if c >= 2 and ch not in vocab and ch not in protected]


def _char_class(ch: str) -> str:
    return "digit" if ch.isdigit() else (char_script(ch) or "other")


def _words(base: BaseTokenizer, lines: list[str]) -> Iterator[list[int]]:
    """The target text as base token ids, cut where the base's tokenizer never lets a piece
    cross: its pre-tokenizer's words (byte-level) or, for SentencePiece, a `▁`, a change of
    script or character class, a digit under split_digits, and byte-fallback pieces."""
    encodings = base.tokenizer.encode_batch(lines, add_special_tokens=False)
    if base.family == BYTE_LEVEL:
        for enc in encodings:
            word: list[int] = []
            for i, (token_id, w) in enumerate(zip(enc.ids, enc.word_ids)):
                if i and w != enc.word_ids[i - 1]:
                    yield word
                    word = []
                word.append(token_id)
            yield word
        return
    split_digits = base.split_digits()
    normal = base.normal_pieces()
    for enc in encodings:
        word: list[int] = []
        previous = ""
        for i, (token, token_id) in enumerate(zip(enc.tokens, enc.ids)):
            if token not in normal:  # a byte or unknown piece joins nothing
                yield word
                word, previous = [], ""
                continue
            first = token.lstrip("▁")[:1]
            # a pre-tokenizer's words (Metaspace, Gemma's Split) are never crossed either
            crossed = i and enc.word_ids[i] != enc.word_ids[i - 1]
            if previous and (crossed or token.startswith("▁") or not first
                             or _char_class(first) != _char_class(previous)
                             or (split_digits and (first.isdigit() or previous.isdigit()))):
                yield word
                word = []
            word.append(token_id)
            previous = token[-1]
        yield word


def _train_continued(base: BaseTokenizer, lines: list[str], n: int, protected: set[str]) -> list[str]:
    """BPE merges learned on top of the base's own segmentation of the target text.

    The target text is segmented by the base, every base token becomes one private-use
    character, and `tokenizers`' BpeTrainer learns merges over those characters: each merge
    joins the two tokens whose pairing shortens the base segmentation most, so tokens come
    ranked by their saving and every one is reachable through merges that rank after the
    base's (a tokenizer trained from scratch takes other paths, and a third of its tokens
    cannot be reached from the base's segmentation).
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    symbol: dict[int, str] = {}

    def encode(word: list[int]) -> str:
        for token_id in word:
            if token_id not in symbol:
                if len(symbol) >= len(_PRIVATE_USE):
                    raise InputError("the target text uses more distinct base tokens than private-use "
                                     "characters exist to train on them")
                symbol[token_id] = _PRIVATE_USE[len(symbol)]
        return "".join(symbol[t] for t in word)

    # Encoded before the trainer is built: its alphabet is the set of symbols in use.
    # BpeTrainer counts words, so grouping 256 to a training line only saves calls
    text_lines = [" ".join(encode(w) for w in chunk if len(w) > 1) for chunk in batched(_words(base, lines), 256)]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    # Some merges rebuild a token the base already has by another path, or are protected;
    # a fifth more merges than asked leaves room to skip them.
    trainer = trainers.BpeTrainer(vocab_size=len(symbol) + n + n // 5 + 100, initial_alphabet=list(symbol.values()),
                                  show_progress=False, special_tokens=[], min_frequency=2)
    tok.train_from_iterator(text_lines, trainer=trainer)
    text = {sym: base.tokenizer.id_to_token(token_id) for token_id, sym in symbol.items()}
    vocab = set(base.vocab)
    out = []
    for merge in json.loads(tok.to_str())["model"]["merges"]:
        left, right = merge if isinstance(merge, list) else merge.split(" ", 1)
        a, b = "".join(text[c] for c in left), "".join(text[c] for c in right)
        token = a + b
        if token in vocab or token in protected or a not in vocab or b not in vocab:
            continue
        vocab.add(token)
        out.append(token)
    return out


def _train_sentencepiece(base: BaseTokenizer, lines: list[str], size: int) -> list[str]:
    """Pieces of a sentencepiece BPE trained from scratch like the base (its splitting and
    normalisation rules), best first; single characters first of all, since pieces need them."""
    import sentencepiece

    spec, norm = base.proto.trainer_spec, base.proto.normalizer_spec
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=model, model_type="bpe", vocab_size=size,
        hard_vocab_limit=False, byte_fallback=spec.byte_fallback, split_digits=spec.split_digits,
        split_by_whitespace=spec.split_by_whitespace, split_by_number=spec.split_by_number,
        split_by_unicode_script=spec.split_by_unicode_script,
        max_sentencepiece_length=spec.max_sentencepiece_length,
        treat_whitespace_as_suffix=spec.treat_whitespace_as_suffix,
        allow_whitespace_only_pieces=spec.allow_whitespace_only_pieces,
        # Small target corpora have few rare characters; all of them are worth a token.
        character_coverage=1.0, normalization_rule_name="identity",
        add_dummy_prefix=norm.add_dummy_prefix, remove_extra_whitespaces=norm.remove_extra_whitespaces,
        num_threads=2, minloglevel=2, max_sentence_length=1 << 16,
    )
    from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.getvalue())
    normal = sorted((p for p in proto.pieces if p.type == 1), key=lambda p: -p.score)
    return [p.piece for p in normal if len(p.piece) == 1] + [p.piece for p in normal if len(p.piece) > 1]


def _train_like_base(base: BaseTokenizer, lines: list[str], size: int) -> list[str]:
    """Tokens of a BPE trained from scratch with the base's normaliser and pre-tokenizer, in
    merge order: byte-level over the 256 byte symbols; a SentencePiece tokenizer.json over
    characters, in words cut before each `▁` as sentencepiece's own trainer cuts them."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.normalizer = base.tokenizer.normalizer
    if base.family == BYTE_LEVEL:
        tok.pre_tokenizer = base.tokenizer.pre_tokenizer
        alphabet = pre_tokenizers.ByteLevel.alphabet()
    else:
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="never", split=True)
        alphabet = []
    trainer = trainers.BpeTrainer(vocab_size=len(alphabet) + size, initial_alphabet=alphabet,
                                  show_progress=False, special_tokens=[])
    tok.train_from_iterator(lines, trainer=trainer)
    merges = json.loads(tok.to_str())["model"]["merges"]
    return ["".join(m if isinstance(m, list) else m.split(" ", 1)) for m in merges]


METHODS = ("continue", "fresh")


def train_candidates(base: BaseTokenizer, lines: list[str], n: int, protected: set[str],
                     method: str = "continue") -> list[str]:
    """Tokens the base lacks, best first: new characters, then `continue`d merges or the
    tokens of a `fresh` target tokenizer (SambaLingo's way)."""
    chars = _new_characters(base, lines, protected)
    if method == "continue":
        with_chars = add_tokens(base, chars[:n]) if chars else base
        trained = chars + _train_continued(with_chars, lines, max(n - len(chars), 0), protected)
    elif method == "fresh":
        size = _TRAIN_FACTOR * n + 1000
        from_model = base.family == SENTENCEPIECE and base.source == "model"
        trained = chars + (_train_sentencepiece if from_model else _train_like_base)(base, lines, size)
    else:
        raise InputError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    vocab = base.vocab
    seen: set[str] = set()
    out = []
    for token in trained:
        # Whitespace-only pieces would change how runs of spaces segment in every language,
        # and numbers are no language's: both keep the base's segmentation.
        if (token in vocab or token in seen or token in protected or not token.strip("▁ Ġ")
                or any(ch.isdigit() for ch in token_text(base, token))):
            continue
        seen.add(token)
        out.append(token)
    return out


def protected_joins(base: BaseTokenizer, lines: list[str]) -> set[str]:
    """Strings a new token must not be, for `lines` to keep their base segmentation.

    New merges rank after all base merges, so a protected line changes only where two
    adjacent final pieces of one word join into a new token, or where a character it spells
    in bytes becomes a token; those strings are returned.
    """
    vocab = base.vocab
    # With ignore_merges (Llama-3) a word that is a vocabulary entry is taken whole, so a new
    # token equal to a protected word of several pieces would replace them.
    whole_words = bool(getattr(base.tokenizer.model, "ignore_merges", False))
    joins: set[str] = set()
    for enc in base.tokenizer.encode_batch(lines, add_special_tokens=False):
        tokens, words = enc.tokens, enc.word_ids
        joins.update(a + b for a, b, wa, wb in zip(tokens, tokens[1:], words, words[1:]) if wa == wb)
        if whole_words:
            spelled: dict[int, str] = {}
            for token, w in zip(tokens, words):
                spelled[w] = spelled.get(w, "") + token
            joins.update(spelled.values())
    if base.family == SENTENCEPIECE:
        joins.update(ch for line in lines for ch in base.normalize(line) if ch not in vocab)
    return joins


def select(base: BaseTokenizer, candidates: list[str], n: int) -> tuple[BaseTokenizer, list[str], dict]:
    """Up to `n` candidates added to the base, skipping tokens that BPE cannot reach
    through the merges; counts of what was skipped."""
    pool = candidates
    counts = {"candidates": len(candidates), "unreachable": 0}
    dropped: set[str] = set()
    chosen: list[str] = []
    expanded = base
    for _ in range(_ROUNDS):
        chosen = [c for c in pool if c not in dropped][:n]
        expanded = add_tokens(base, chosen)
        lost = unreachable(expanded, chosen)
        if not lost:
            break
        dropped.update(lost)
    else:
        chosen = [c for c in chosen if c not in dropped]
        expanded = add_tokens(base, chosen)
    counts["unreachable"] = len(dropped)
    counts["added"] = len(chosen)
    return expanded, chosen, counts


def token_text(base: BaseTokenizer, token: str) -> str:
    """What a token spells, for people reading the manifest."""
    if base.family == BYTE_LEVEL:
        from tokenizers import decoders

        return decoders.ByteLevel().decode([token])
    return token.replace("▁", " ")
