"""Stream records out of every source type, never holding a corpus in memory.

Readers yield record dicts in DESIGN.md's formats (monolingual `text, lang`; parallel
`src, tgt, src_lang, tgt_lang`), or `Bad` for a line that cannot be read, so the caller
decides between stopping with file:line and `--skip-bad` counting.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from lingualift.core.io import InputError, count_lines, iter_lines, parse_slice
from lingualift.core.records import checked, iter_json, read_records
from lingualift.data.config import Source, hub_spec
from lingualift.lang.languages import resolve_code


@dataclass(frozen=True)
class Bad:
    path: str
    line: int
    message: str

    def error(self) -> InputError:
        return InputError(self.message, self.path, self.line)


Item = Union[dict, Bad]
Window = tuple[int, Optional[int]]  # 0-based START, STOP (None: to the end)


def _field(record: dict, dotted: str):
    value = record
    for key in dotted.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _normalise(record: dict, source: Source, path: str, line: int) -> Item:
    """A JSON/Parquet record checked against the two record shapes, languages resolved."""
    if source.src_field:  # the sides moved to src/tgt; the columns they came from dropped (no second copy)
        used = {source.src_field.split(".")[0], source.tgt_field.split(".")[0]}
        record = {**{k: v for k, v in record.items() if k not in used},
                  "src": _field(record, source.src_field), "tgt": _field(record, source.tgt_field)}
    try:
        if "src" in record or "tgt" in record:
            src_lang, tgt_lang = record.get("src_lang") or source.src_lang, record.get("tgt_lang") or source.tgt_lang
            if not (isinstance(record.get("src"), str) and isinstance(record.get("tgt"), str)
                    and isinstance(src_lang, str) and isinstance(tgt_lang, str)):
                return Bad(path, line, "expected a parallel record with string src, tgt and src_lang, tgt_lang")
            return {**record, "src_lang": resolve_code(src_lang), "tgt_lang": resolve_code(tgt_lang)}
        text, lang = record.get(source.text_field), record.get("lang") or source.lang
        if not isinstance(text, str) or not lang or not isinstance(lang, str):
            return Bad(path, line, f"expected a record with a string {source.text_field!r} and a string lang "
                                   "(or src/tgt/src_lang/tgt_lang)")
        return {**{k: v for k, v in record.items() if k != source.text_field}, "text": text, "lang": resolve_code(lang)}
    except InputError as err:
        return Bad(path, line, err.message)


def _text(source: Source, window: Window) -> Iterator[Item]:
    for number, text, error in iter_lines(source.path, window):
        yield Bad(source.path, number, error) if error else {"text": text, "lang": source.lang}


def _jsonl(source: Source, window: Window) -> Iterator[Item]:
    for number, record, error in iter_json(source.path, window):
        if error:
            yield Bad(source.path, number, error)
        elif not isinstance(record, dict):
            yield Bad(source.path, number, "expected a JSON object")
        else:
            yield _normalise(record, source, source.path, number)


def _pairs(source: Source, window: Window) -> Iterator[Item]:
    src_path, tgt_path = source.paths
    for left, right in itertools.zip_longest(iter_lines(src_path, window), iter_lines(tgt_path, window)):
        if left is None or right is None:
            longer, other, (number, _, _) = (src_path, tgt_path, left) if right is None else (tgt_path, src_path, right)
            raise InputError(f"has more lines than {other} (expected aligned files)", longer, number)
        (number, src, src_err), (_, tgt, tgt_err) = left, right
        if src_err or tgt_err:
            yield Bad(src_path if src_err else tgt_path, number, src_err or tgt_err)
            continue
        yield {"src": src, "tgt": tgt, "src_lang": source.src_lang, "tgt_lang": source.tgt_lang}


def _tsv(source: Source, window: Window) -> Iterator[Item]:
    for number, text, error in iter_lines(source.path, window):
        if error or text.count("\t") != 1:
            yield Bad(source.path, number, error or "expected two tab-separated columns (source, target)")
            continue
        src, tgt = text.split("\t")
        yield {"src": src, "tgt": tgt, "src_lang": source.src_lang, "tgt_lang": source.tgt_lang}


def _flores(source: Source, window: Window) -> Iterator[Item]:
    return itertools.islice(_flores_items(source), *window)


def _flores_items(source: Source) -> Iterator[Item]:
    from lingualift.corpora.sources import load_pair, load_side

    part = parse_slice(source.lines or ":")
    for code in source.langs:
        side = load_side(f"flores:{source.path}", code, source.split, "src")
        yield from ({"text": line, "lang": code} for line in side.lines[part])
    for direction in source.pairs:
        src, tgt = (resolve_code(c) for c in direction.split("-", 1))
        src_side, tgt_side = load_pair(f"flores:{source.path}", src, tgt, source.split, None)
        yield from ({"src": s, "tgt": t, "src_lang": src, "tgt_lang": tgt}
                    for s, t in zip(src_side.lines[part], tgt_side.lines[part]))


def _parquet(source: Source, window: Window) -> Iterator[Item]:
    import pyarrow.parquet as pq

    if not Path(source.path).is_file():
        raise InputError("file not found", source.path)
    start, stop = window
    file, row = pq.ParquetFile(source.path), 0
    for group in range(file.num_row_groups):  # row groups wholly before the window are not read
        rows = file.metadata.row_group(group).num_rows
        if row + rows <= start or (stop is not None and row >= stop):
            row += rows
            continue
        for batch in file.iter_batches(batch_size=4096, row_groups=[group]):
            for record in batch.to_pylist():
                row += 1
                if row > start and (stop is None or row <= stop):
                    yield _normalise(record, source, source.path, row)


def hub_rows(name: str, subset: str | None, split: str) -> Iterator[dict]:
    """The rows of a local dataset folder, or of a hub dataset streamed (never downloaded whole)."""
    try:
        import datasets
    except ImportError:
        raise InputError("hf sources need the datasets package (`pip install datasets`)") from None
    local = Path(name).exists()
    if not local:
        from lingualift.core.assets import offline

        if offline():
            raise InputError(f"hub dataset {name} cannot be streamed offline; pass a local copy")
    yield from (dict(r) for r in datasets.load_dataset(name, subset, split=split, streaming=not local))


def _hf(source: Source, window: Window) -> Iterator[Item]:
    for row, record in enumerate(hub_rows(source.path, source.subset, source.split), start=1):
        yield _normalise(record, source, f"hf:{source.path}", row)


def taken_whole(spec: str, convert) -> list[dict]:
    """The records of a file or of an `hf:NAME[:SPLIT]` dataset (Alpaca, messages or preference
    records used as they are), each checked by `convert`; the first bad one stops with its row."""
    hub = hub_spec(spec)
    if hub is None:
        return checked(read_records(spec), spec, convert)
    return checked(enumerate(hub_rows(hub[0], None, hub[1]), start=1), spec, convert)


READERS = {"text": _text, "jsonl": _jsonl, "pairs": _pairs, "tsv": _tsv, "flores": _flores,
           "parquet": _parquet, "hf": _hf}


def read(source: Source, window: Window = (0, None)) -> Iterator[Item]:
    """The items of a source, or of its 0-based lines (rows, for Parquet; records, for
    FLORES) START:STOP; numbering stays the file's, so errors name the real line."""
    return READERS[source.type](source, window)


def count(source: Source) -> int:
    """How many items `read` can window over: the lines of the file (of the source side, for
    pairs), the rows of a Parquet file, FLORES's records. Streamed hub datasets have no count
    (`Source` keeps them to one task)."""
    if source.type == "parquet":
        import pyarrow.parquet as pq

        if not Path(source.path).is_file():
            raise InputError("file not found", source.path)
        return pq.ParquetFile(source.path).metadata.num_rows
    if source.type == "flores":
        return sum(1 for _ in _flores_items(source))
    return count_lines(source.paths[0] if source.type == "pairs" else source.path)


def piece(source: Source, index: int, pieces: int) -> Window:
    """Piece `index` of `pieces` contiguous, nearly equal windows: in file order, so the
    pieces of a source, read one after the other, are the source."""
    if pieces == 1:
        return (0, None)
    total = count(source)
    return (total * index // pieces, total * (index + 1) // pieces)
