"""The BPE families `vocab expand` edits, detected from the tokenizer itself.

- **SentencePiece-BPE** (`▁` for spaces, byte fallback): Llama-2, Mistral, Gemma. Given as a
  bare `tokenizer.model`, the SentencePiece model is the source of truth and is converted to
  a `tokenizers` pipeline laid out like Meta's own Llama-2 `tokenizer.json` (Prepend + Replace
  normaliser, no pre-tokenizer, merges ordered by piece score): transformers 5 builds its
  Llama tokenizer from a bare `tokenizer.model` with a pipeline that drops the first word's
  `▁`, so we never let it convert; the conversion segments every FLORES-200 line exactly as
  `sentencepiece` does (tests/test_vocab_expand.py). Given as a `tokenizer.json` (in any of
  the hub's layouts: Metaspace pre-tokenizer, Prepend + Replace normaliser, or Gemma's
  Replace normaliser + Split pre-tokenizer), that file is what transformers runs, so it is
  edited directly, like byte-level; a `tokenizer.model` beside it gets the same pieces.
- **Byte-level BPE** (GPT-2, Llama-3, Qwen, SmolLM2: `Ġ` for spaces): `tokenizer.json` edited.
- **Unigram** (T5, mT5, XLM-R) and **WordPiece** (BERT) are refused in one line: their
  vocabularies are not built by merges, so a new token cannot be ranked after the base's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from lingualift.core.io import InputError

SENTENCEPIECE, BYTE_LEVEL = "sentencepiece", "byte-level"
_NORMAL = 1  # sentencepiece ModelProto.SentencePiece.Type.NORMAL
_BYTE_PIECE = re.compile(r"^<0x[0-9A-Fa-f]{2}>$")
# What each refused model type is, for the one-line refusal.
_REFUSED = {"Unigram": "Unigram (the T5 / mT5 / XLM-R family)", "WordPiece": "WordPiece (the BERT family)",
            "WordLevel": "WordLevel (a whole-word vocabulary)"}
# New pieces rank below every base piece, including the whitespace-only ones Llama-2 scores
# -1e9; float32 scores are 64 apart at that magnitude, so a step of 128 keeps them distinct.
_SCORE_STEP = 128.0


@dataclass
class BaseTokenizer:
    """A tokenizer in editable form plus what its HF directory needs besides tokenizer.json."""

    family: str
    tokenizer: object  # tokenizers.Tokenizer
    proto: object | None = None  # sentencepiece ModelProto, when the base has a tokenizer.model
    config: dict = field(default_factory=dict)  # tokenizer_config.json entries to keep
    # "model": tokenizer.json is derived from `proto` (a bare tokenizer.model); "json": the
    # base's tokenizer.json is the truth and is edited as is.
    source: str = "json"

    @property
    def vocab(self) -> dict[str, int]:
        return self.tokenizer.get_vocab(with_added_tokens=False)

    def normal_pieces(self) -> set[str]:
        """Vocabulary pieces that spell text (no byte, control or added pieces)."""
        if self.proto is not None and self.source == "model":
            return {p.piece for p in self.proto.pieces if p.type == _NORMAL}
        added = {t.content for t in self.tokenizer.get_added_tokens_decoder().values()}
        return {t for t in self.vocab if t not in added and not _BYTE_PIECE.match(t)}

    def split_digits(self) -> bool:
        """Whether numbers are cut into digits (sentencepiece's split_digits)."""
        if self.proto is not None and self.source == "model":
            return self.proto.trainer_spec.split_digits
        return not any(len(t.strip("▁")) > 1 and t.strip("▁").isdigit() for t in self.vocab)

    def normalize(self, text: str) -> str:
        """The text as the SentencePiece model sees it: normalised, `▁` for spaces."""
        normalizer = self.tokenizer.normalizer
        return (normalizer.normalize_str(text) if normalizer else text).replace(" ", "▁")


def read_proto(path: str | Path):
    from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto()
    try:
        proto.ParseFromString(Path(path).read_bytes())
    except Exception as err:  # protobuf raises DecodeError, a bare Exception subclass
        raise InputError(f"not a SentencePiece model ({err})", path) from None
    if proto.trainer_spec.model_type != proto.trainer_spec.BPE:
        kind = proto.trainer_spec.ModelType.Name(proto.trainer_spec.model_type).capitalize()
        raise InputError(_refusal(_REFUSED.get(kind, f"SentencePiece {kind}")), path)
    return proto


def _refusal(family: str) -> str:
    return (f"this tokenizer is {family}: its vocabulary is not built by BPE merges, so vocab expand "
            "cannot rank new tokens after the base's (it extends SentencePiece-BPE and byte-level BPE)")


def sp_to_hf(proto):
    """A `tokenizers` pipeline that segments exactly like sentencepiece for this model.

    Every way of splitting a piece into two pieces is a merge, ranked by the merged piece's
    score (sentencepiece merges the highest-scoring pair first); ties by the parts' ids.
    """
    from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, processors

    pieces = list(proto.pieces)
    vocab = {p.piece: i for i, p in enumerate(pieces)}
    normal = {p.piece for p in pieces if p.type == _NORMAL}
    score = {p.piece: p.score for p in pieces}
    merges = [(piece[:k], piece[k:]) for piece in normal for k in range(1, len(piece))
              if piece[:k] in normal and piece[k:] in normal]
    merges.sort(key=lambda lr: (-score[lr[0] + lr[1]], vocab[lr[0]], vocab[lr[1]]))
    spec = proto.trainer_spec
    unk = spec.unk_piece if spec.unk_id >= 0 else None
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token=unk, fuse_unk=True,
                               byte_fallback=spec.byte_fallback))
    steps = [normalizers.Replace(" ", "▁")]
    if proto.normalizer_spec.add_dummy_prefix:
        steps.insert(0, normalizers.Prepend("▁"))
    tok.normalizer = normalizers.Sequence(steps)
    tok.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()]
        + ([decoders.Strip(" ", 1, 0)] if proto.normalizer_spec.add_dummy_prefix else []))
    # UNKNOWN and CONTROL pieces are specials; USER_DEFINED ones sentencepiece matches as
    # whole strings in the input, which is what a non-special added token does.
    tok.add_special_tokens([AddedToken(p.piece, special=True, normalized=False) for p in pieces if p.type in (2, 3)])
    tok.add_tokens([AddedToken(p.piece, special=False, normalized=True) for p in pieces if p.type == 4])
    if spec.bos_id >= 0:
        bos = (spec.bos_piece, spec.bos_id)
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos[0]} $A", pair=f"{bos[0]} $A {bos[0]} $B", special_tokens=[bos])
    return tok


def _sp_config(proto) -> dict:
    spec = proto.trainer_spec
    config = {"unk_token": spec.unk_piece if spec.unk_id >= 0 else None,
              "bos_token": spec.bos_piece if spec.bos_id >= 0 else None,
              "eos_token": spec.eos_piece if spec.eos_id >= 0 else None,
              "add_bos_token": spec.bos_id >= 0, "clean_up_tokenization_spaces": False}
    return {k: v for k, v in config.items() if v is not None}


def _nodes(node):
    """A normaliser / pre-tokenizer / decoder and, for a Sequence, its members."""
    if not node:
        return
    yield node
    for child in node.get("normalizers", []) + node.get("pretokenizers", []) + node.get("decoders", []):
        yield from _nodes(child)


def is_byte_level(tokenizer_json: dict) -> bool:
    """A ByteLevel pre-tokenizer, alone or in a Sequence (Llama-3 and Qwen put a regex Split first)."""
    return any(n.get("type") == "ByteLevel" for n in _nodes(tokenizer_json.get("pre_tokenizer")))


def _spaces_as_metaspace(tokenizer_json: dict) -> bool:
    """Spaces become `▁` somewhere in the pipeline: a Metaspace pre-tokenizer or decoder
    (Mistral, newer Llama conversions) or a Replace(" ", "▁") normaliser (Meta's Llama-2, Gemma)."""
    for part in ("normalizer", "pre_tokenizer", "decoder"):
        for node in _nodes(tokenizer_json.get(part)):
            if node.get("type") == "Metaspace":
                return True
            if node.get("type") == "Replace" and node.get("content") == "▁" and part == "normalizer":
                return True
    return False


def detect_family(tokenizer_json: dict, path: str | Path | None = None) -> str:
    """The family of a tokenizer.json, from its model and pipeline (never its file name)."""
    kind = tokenizer_json.get("model", {}).get("type")
    if kind is None and "merges" in tokenizer_json.get("model", {}):
        kind = "BPE"  # old files omit the type of a BPE model
    if kind != "BPE":
        raise InputError(_refusal(_REFUSED.get(kind, f"a {kind} model")), path)
    if is_byte_level(tokenizer_json):
        return BYTE_LEVEL
    if _spaces_as_metaspace(tokenizer_json):
        return SENTENCEPIECE
    raise InputError("this BPE tokenizer.json is neither byte-level (a ByteLevel pre-tokenizer) nor "
                     "SentencePiece-style (spaces as ▁); vocab expand extends those two", path)


def _from_json(path: Path, keep: dict, proto_path: Path | None = None) -> BaseTokenizer:
    from tokenizers import Tokenizer

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise InputError(f"not a tokenizer.json ({err.msg})", path, err.lineno) from None
    family = detect_family(data, path)
    proto = None
    if family == SENTENCEPIECE and proto_path is not None and proto_path.is_file():
        try:  # kept only to write an expanded copy beside the edited tokenizer.json
            proto = read_proto(proto_path)
        except InputError:
            proto = None
    config = dict(keep)
    if family == SENTENCEPIECE:
        config.setdefault("clean_up_tokenization_spaces", False)  # spaces are text here
    return BaseTokenizer(family, Tokenizer.from_str(json.dumps(data)), proto, config, "json")


def load_base(spec: str) -> tuple[BaseTokenizer, Path | None]:
    """The base tokenizer of a model spec or a bare SentencePiece `.model` file, and the
    model directory (None for a bare tokenizer: only the tokenizer is expanded)."""
    if spec.endswith(".model"):
        if not Path(spec).is_file():
            raise InputError("SentencePiece model not found", spec)
        proto = read_proto(spec)
        return BaseTokenizer(SENTENCEPIECE, sp_to_hf(proto), proto, _sp_config(proto), "model"), None
    if spec.endswith(".json") and not Path(spec).is_dir():
        if not Path(spec).is_file():
            raise InputError("tokenizer.json not found", spec)
        return _from_json(Path(spec), {}), None
    from lingualift.inference.models import resolve_spec

    directory, gguf = resolve_spec(spec)
    if gguf:
        raise InputError("expand a converted model, not a GGUF file: run `lingualift models fetch` "
                         "for a preset, or save the model with save_pretrained first", directory / gguf)
    config_path = directory / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
    keep = {k: v for k, v in config.items() if k in (
        "bos_token", "eos_token", "unk_token", "pad_token", "add_bos_token", "add_eos_token",
        "chat_template", "model_max_length", "clean_up_tokenization_spaces", "additional_special_tokens")}
    template = directory / "chat_template.jinja"
    if template.is_file():
        keep["chat_template"] = template.read_text(encoding="utf-8")
    path = directory / "tokenizer.json"
    if path.is_file():  # what transformers runs, whatever else the directory holds
        return _from_json(path, keep, directory / "tokenizer.model"), directory
    if (directory / "tokenizer.model").is_file():
        proto = read_proto(directory / "tokenizer.model")
        return BaseTokenizer(SENTENCEPIECE, sp_to_hf(proto), proto, {**_sp_config(proto), **keep}, "model"), directory
    raise InputError("model directory has neither tokenizer.model nor tokenizer.json", directory)


def add_tokens(base: BaseTokenizer, new: list[str]) -> BaseTokenizer:
    """The base with `new` appended as real vocabulary entries, ranked after every base merge.

    A new token is reachable through every split into two tokens of the expanded vocabulary,
    so BPE can build it whichever way its parts came together; because all new merges rank
    last, base text segments exactly as before unless two of its final base pieces join into
    a new token (`select.protected_joins` finds those).
    """
    proto = None
    if base.proto is not None:
        proto = type(base.proto)()
        proto.CopyFrom(base.proto)
        lowest = min(p.score for p in proto.pieces)
        for rank, piece in enumerate(new, start=1):
            proto.pieces.add(piece=piece, score=lowest - rank * _SCORE_STEP, type=_NORMAL)
        if base.source == "model":
            return BaseTokenizer(base.family, sp_to_hf(proto), proto, base.config, "model")
    from tokenizers import Tokenizer

    data = json.loads(base.tokenizer.to_str())
    vocab = data["model"]["vocab"]
    next_id = 1 + max([*vocab.values(), *(t["id"] for t in data.get("added_tokens", []))])
    for offset, token in enumerate(new):
        vocab[token] = next_id + offset
    merges = [m if isinstance(m, list) else m.split(" ", 1) for m in data["model"]["merges"]]
    for token in new:
        merges += [[token[:k], token[k:]] for k in range(1, len(token))
                   if token[:k] in vocab and token[k:] in vocab]
    data["model"]["merges"] = merges
    return BaseTokenizer(base.family, Tokenizer.from_str(json.dumps(data)), proto, base.config, "json")


def unreachable(base: BaseTokenizer, tokens: list[str]) -> list[str]:
    """Tokens BPE never produces for their own text (no merge path through the ranks)."""
    model = base.tokenizer.model
    return [t for t in tokens if [x.value for x in model.tokenize(t)] != [t]]


def save(base: BaseTokenizer, out: Path) -> None:
    """tokenizer.json (+ tokenizer.model) and a config that makes AutoTokenizer use them as is."""
    from lingualift.core.io import write_json, write_text

    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "tokenizer.json", base.tokenizer.to_str(pretty=True))
    if base.proto is not None:
        (out / "tokenizer.model").write_bytes(base.proto.SerializeToString())
    config = {k: v for k, v in base.config.items() if k != "chat_template"}
    # TokenizersBackend takes tokenizer.json as written; a model-specific class would
    # rebuild the pipeline from the vocabulary (and, for Llama, drop the first `▁`).
    config["tokenizer_class"] = "TokenizersBackend"
    write_json(out / "tokenizer_config.json", config)
    if base.config.get("chat_template"):
        write_text(out / "chat_template.jinja", base.config["chat_template"])
