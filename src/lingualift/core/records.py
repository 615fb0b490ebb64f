"""JSON records in and out: the one JSONL / JSON-list reader, and DESIGN.md's record shapes.

Every reader of JSON input goes through `iter_json`, so bad input ends the same way
everywhere: the file, the line (of the JSONL line, or of the item inside a JSON list) and
what was expected. A string holding a lone surrogate (`"\\ud800"`, valid JSON but not
encodable text) is refused here, before it reaches a tokenizer or a socket.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lingualift.core.io import InputError, iter_lines, read_text

ROLES = ("system", "user", "assistant")
# ShareGPT/LLaMA-Factory role names, read as ours.
_SHAREGPT = {"human": "user", "gpt": "assistant", "system": "system", "user": "user", "assistant": "assistant"}


def text_problem(value: Any) -> str | None:
    """Why a decoded JSON value cannot be used as text (a lone surrogate anywhere), or None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as err:
            return f"a lone surrogate \\u{ord(value[err.start]):04x} (not encodable text)"
        return None
    if isinstance(value, dict):
        return next((p for p in (text_problem(k) or text_problem(v) for k, v in value.items()) if p), None)
    if isinstance(value, list):
        return next((p for p in map(text_problem, value) if p), None)
    return None


def parse_line(text: str) -> tuple[Any, str | None]:
    """One JSON value from a line: (value, None) or (None, what is wrong)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        return None, f"malformed JSON ({err.msg}, column {err.colno})"
    except RecursionError:
        return None, "JSON nested too deeply"
    problem = text_problem(value)
    return (None, problem) if problem else (value, None)


def _list_items(text: str, path) -> Iterator[tuple[int, Any, str | None]]:
    """(line of the item, item, error) of a top-level JSON list, read item by item so an
    error names the item's own line."""
    decoder = json.JSONDecoder()
    i, line, counted = 0, 1, 0

    def skip(k: int) -> int:
        while k < len(text) and text[k] in " \t\r\n":
            k += 1
        return k

    def line_at(k: int) -> int:
        nonlocal line, counted
        line += text.count("\n", counted, k)
        counted = k
        return line

    i = skip(i)
    if i >= len(text) or text[i] != "[":
        raise InputError("expected a JSON list of records (or JSONL, one record a line)", path, line_at(i))
    i = skip(i + 1)
    if i < len(text) and text[i] == "]":
        return
    while True:
        try:
            value, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError as err:
            raise InputError(f"malformed JSON ({err.msg})", path, line_at(err.pos)) from None
        except RecursionError:
            raise InputError("JSON nested too deeply", path, line_at(i)) from None
        problem = text_problem(value)
        yield line_at(i), (None if problem else value), problem
        i = skip(end)
        if i < len(text) and text[i] == ",":
            i = skip(i + 1)
        elif i < len(text) and text[i] == "]":
            return
        else:
            raise InputError("malformed JSON (expected ',' or ']' after a list item)", path, line_at(i))


def iter_json(path: str | os.PathLike, window: tuple[int, int | None] = (0, None)
              ) -> Iterator[tuple[int, Any, str | None]]:
    """(line, value, error) of every record of a JSONL file or a `.json` list; blank JSONL
    lines are skipped. Errors come back as values so callers can stop or skip and count.
    `window`: only those 0-based lines of a JSONL file (`iter_lines`)."""
    if Path(path).suffix == ".json":
        if window != (0, None):
            raise InputError("a .json list is read whole (one task); split it as JSONL to read it in pieces", path)
        yield from _list_items(read_text(path), path)
        return
    for number, text, error in iter_lines(path, window):
        if error:
            yield number, None, error
        elif text.strip():
            value, problem = parse_line(text)
            yield number, value, problem


def read_records(path: str | os.PathLike) -> list[tuple[int, dict]]:
    """(line, record) of every JSON object in a JSONL file or JSON list, stopping at the first bad one."""
    out = []
    for number, value, error in iter_json(path):
        if error:
            raise InputError(error, path, number)
        if not isinstance(value, dict):
            raise InputError("expected a JSON object", path, number)
        out.append((number, value))
    if not out:
        raise InputError("no records", path)
    return out


def _sharegpt_role(name: Any) -> Any:
    return _SHAREGPT.get(name, name) if isinstance(name, str) else name


def to_messages(record: dict, require_assistant: bool = True) -> list[dict]:
    """DESIGN.md instruction records, Alpaca records and ShareGPT `conversations`, as messages."""
    if "messages" in record:
        messages = record["messages"]
    elif "instruction" in record and "output" in record:
        for key in ("instruction", "input", "output"):
            if not isinstance(record.get(key, ""), str):
                raise ValueError(f"{key} must be a string")
        user = record["instruction"] + (f"\n\n{record['input']}" if record.get("input") else "")
        messages = [{"role": "user", "content": user}, {"role": "assistant", "content": record["output"]}]
    elif "conversations" in record:
        if not isinstance(record["conversations"], list):
            raise ValueError("conversations must be a list of turns")
        messages = [{"role": _sharegpt_role(turn.get("from")), "content": turn.get("value")}
                    if isinstance(turn, dict) else turn for turn in record["conversations"]]
    else:
        raise ValueError("expected messages, instruction/input/output or conversations")
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages must be a non-empty list")
    for turn in messages:
        if not isinstance(turn, dict) or turn.get("role") not in ROLES:
            role = turn.get("role") if isinstance(turn, dict) else turn
            raise ValueError(f"unknown role {role!r} (expected {', '.join(ROLES)})")
        if not isinstance(turn.get("content"), str):
            raise ValueError(f"a {turn['role']} message without string content")
    if require_assistant and not any(turn["role"] == "assistant" for turn in messages):
        raise ValueError("no assistant message to learn from")
    return messages


def checked(records, path: str, convert) -> list[dict]:
    """`convert` applied to each (line, record); the first it refuses stops with file:line
    (`path` is a file or a hub reference such as hf:tatsu-lab/alpaca)."""
    out = []
    for number, record in records:
        try:
            out.append(convert(record))
        except ValueError as err:
            raise InputError(str(err), path, number) from None
    return out


def instruction(record: dict) -> dict:
    return {**record, "messages": to_messages(record)}


def read_instructions(path: str) -> list[dict]:
    """Instruction records with their messages checked; the first bad one stops with file:line."""
    return checked(read_records(path), path, instruction)


def _answer(value, field: str) -> str:
    if isinstance(value, list) and value:  # a conversation ending in the answer (ultrafeedback_binarized)
        value = value[-1]
    if isinstance(value, dict):  # a LLaMA-Factory turn
        value = value.get("value", value.get("content"))
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a string (or a turn with a value, or turns ending in one)")
    return value


def preference(record: dict) -> dict:
    """A preference record (prompt as text or messages, or LLaMA-Factory `conversations`) as
    {prompt: messages, chosen, rejected}."""
    prompt = record.get("prompt", record.get("conversations"))
    if isinstance(prompt, str) and "prompt" in record:
        messages = [{"role": "user", "content": prompt}]
    elif isinstance(prompt, list):
        key = "messages" if "prompt" in record else "conversations"
        messages = to_messages({key: prompt}, require_assistant=False)
    else:
        raise ValueError("expected a prompt (text or messages) or conversations (a list of turns)")
    return {"prompt": messages, "chosen": _answer(record.get("chosen"), "chosen"),
            "rejected": _answer(record.get("rejected"), "rejected")}


def read_preferences(path: str) -> list[dict]:
    """Preference records of a file, checked (see `preference`)."""
    return checked(read_records(path), path, preference)


def dumps(record: dict) -> str:
    """One JSONL line: keys sorted so equal records give equal bytes."""
    return json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"
