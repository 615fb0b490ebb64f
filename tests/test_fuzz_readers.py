"""Every reader and record parser fed arbitrary bytes and arbitrary JSON values (issue 14):
the result is records or one InputError of one line, never another exception."""

import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lingualift.core import io, records
from lingualift.core.io import InputError
from lingualift.data import readers
from lingualift.data.config import Source
from lingualift.tasks import base as tasks
from lingualift.translate.files import read_input

FUZZ = settings(max_examples=200, deadline=None)
DIR = Path(tempfile.mkdtemp(prefix="lingualift-fuzz-"))

# Bytes that hit the decoding rules: a BOM, CR/CRLF, invalid and truncated UTF-8, tabs, NUL.
PIECES = [b"\xef\xbb\xbf", b"\r", b"\r\n", b"\n", b"\t", b"\x00", b"\xff", b"\xc3", b"\xed\xa0\x80", b"{", b"}",
          b"[", b"]", b'"', b",", b":", b"\\ud800", b'{"text": "a", "lang": "sw"}', b"\xe2\x80\xae"]
raw_bytes = st.lists(st.one_of(st.binary(max_size=12), st.sampled_from(PIECES)), max_size=12).map(b"".join)

KEYS = ["text", "lang", "src", "tgt", "src_lang", "tgt_lang", "instruction", "input", "output", "messages",
        "conversations", "prompt", "chosen", "rejected", "role", "content", "from", "value"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8),
                    st.sampled_from(["\ud800", "sw", "en", "user", "assistant", "human", "gpt", "zh", "a\nb"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=4)), inner, max_size=5)), max_leaves=12)
# The record shapes of DESIGN.md with any value in any field: wrong types where types matter.
turns = st.lists(st.one_of(scalars, st.fixed_dictionaries({}, optional={"from": scalars, "value": scalars,
                                                                       "role": scalars, "content": scalars})),
                 max_size=3)
shapes = st.one_of(
    st.fixed_dictionaries({"text": scalars}, optional={"lang": scalars}),
    st.fixed_dictionaries({"src": scalars, "tgt": scalars}, optional={"src_lang": scalars, "tgt_lang": scalars}),
    st.fixed_dictionaries({"instruction": scalars, "output": scalars}, optional={"input": scalars}),
    st.fixed_dictionaries({}, optional={"messages": st.one_of(scalars, turns), "conversations": st.one_of(scalars, turns)}),
    st.fixed_dictionaries({"chosen": st.one_of(scalars, turns), "rejected": scalars},
                          optional={"prompt": st.one_of(scalars, turns), "conversations": st.one_of(scalars, turns)}),
)
record_lists = st.lists(st.one_of(shapes, values, st.dictionaries(st.sampled_from(KEYS), values, max_size=6)),
                        max_size=5)


def _file(name: str, data: bytes) -> Path:
    path = DIR / name
    path.write_bytes(data)
    return path


def _contract(call):
    """Run `call`; only an InputError of one line may escape it."""
    try:
        result = call()
        return list(result) if result is not None and not isinstance(result, (str, dict)) else result
    except InputError as err:
        assert "\n" not in str(err) and "\r" not in str(err), repr(str(err))
        return None


def _check_items(items):
    for item in items or []:
        if isinstance(item, readers.Bad):
            assert "\n" not in str(item.error())
        else:
            assert isinstance(item, dict)


def _as_jsonl(values_list) -> bytes:
    return "".join(json.dumps(v) + "\n" for v in values_list).encode()


@FUZZ
@given(raw_bytes)
def test_text_readers_on_arbitrary_bytes(data):
    path = _file("a.txt", data)
    _contract(lambda: io.iter_lines(path))
    _contract(lambda: io.read_lines(path))
    _contract(lambda: io.read_text(path))
    _contract(lambda: read_input(str(path)))
    _check_items(_contract(lambda: readers.read(Source(type="text", path=str(path), lang="sw"))))


@FUZZ
@given(raw_bytes, st.sampled_from(["a.jsonl", "a.json"]))
def test_json_readers_on_arbitrary_bytes(data, name):
    path = _file(name, data)
    for reader in (records.iter_json, records.read_records, records.read_instructions, records.read_preferences):
        _contract(lambda reader=reader: reader(str(path)))
    _check_items(_contract(lambda: readers.read(Source(type="jsonl", path=str(path)))))
    _contract(lambda: tasks.read_jsonl(path))
    if name == "a.jsonl":
        _contract(lambda: read_input(str(path)))


@FUZZ
@given(record_lists, st.sampled_from(["a.jsonl", "a.json"]))
def test_record_parsers_on_arbitrary_json_values(values_list, name):
    data = _as_jsonl(values_list) if name == "a.jsonl" else json.dumps(values_list).encode()
    path = _file(name, data)
    for reader in (records.iter_json, records.read_records, records.read_instructions, records.read_preferences):
        _contract(lambda reader=reader: reader(str(path)))
    _check_items(_contract(lambda: readers.read(Source(type="jsonl", path=str(path)))))
    _check_items(_contract(lambda: readers.read(Source(type="jsonl", path=str(path), lang="sw"))))
    _contract(lambda: tasks.read_jsonl(path))
    if name == "a.jsonl":
        _contract(lambda: read_input(str(path), field="text"))


@FUZZ
@given(values)
def test_parse_line_on_arbitrary_values(value):
    parsed, problem = records.parse_line(json.dumps(value))
    assert (parsed is None) != (problem is None) or (parsed is None and problem is None and value is None)
    assert problem is None or "\n" not in problem


@FUZZ
@given(raw_bytes, raw_bytes, st.integers(1, 3))
def test_pair_and_tsv_readers_on_arbitrary_bytes(left, right, column):
    src, tgt = _file("src.txt", left), _file("tgt.txt", right)
    tsv = _file("a.tsv", left)
    _check_items(_contract(lambda: readers.read(Source(type="pairs", paths=[str(src), str(tgt)], src_lang="en",
                                                       tgt_lang="sw"))))
    _check_items(_contract(lambda: readers.read(Source(type="tsv", path=str(tsv), src_lang="en", tgt_lang="sw"))))
    _contract(lambda: read_input(str(tsv), column=column))
    _contract(lambda: tasks.read_tsv(tsv, header=bool(column % 2), columns=column))


@pytest.fixture(scope="module", autouse=True)
def _cleanup():
    yield
    for child in DIR.iterdir():
        child.unlink()
    os.rmdir(DIR)
