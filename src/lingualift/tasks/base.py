"""What a task item is, and the readers every task shares (file:line errors on bad rows)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lingualift.core.io import InputError, iter_lines
from lingualift.core.records import iter_json
from lingualift.inference.prompts import alpaca_prompt
from lingualift.lang import languages

HUB = Path("hub")  # `--data hub`: read the public copies on the Hugging Face hub instead of a folder

# LLaMAX / MindMerger evaluate instruction-tuned models with the Alpaca prompt they were tuned
# on; the task text goes in the instruction, the answer is read (or scored) after Response.
ALPACA = alpaca_prompt("{instruction}")


@dataclass(frozen=True)
class Choice:
    """One scored option: log P(continuation | context)."""

    context: str
    continuation: str


@dataclass(frozen=True)
class Item:
    """A multiple-choice item (choices, gold) or a generation item (prompt, answer)."""

    id: str
    choices: tuple[Choice, ...] = ()
    gold: int = -1
    norm_lengths: tuple[int, ...] = ()  # acc_norm divides by these: the choice strings' lengths
    prompt: str = ""
    answer: str = ""
    stop: tuple[str, ...] = ()

    @property
    def generative(self) -> bool:
        return not self.choices


def mc(id: str, context: str, options: list[str], gold: int, delimiter: str = " ") -> Item:
    """lm-eval's multiple choice: one context, each option scored as delimiter + option."""
    return Item(id, tuple(Choice(context, delimiter + o) for o in options), gold, tuple(len(o) for o in options))


def with_shots(item: Item, shots: list[Item], delimiter: str = "\n\n") -> Item:
    """Few-shot: each shot written as its context and gold continuation, before the item's context."""
    if not shots:
        return item
    prefix = "".join(s.choices[s.gold].context + s.choices[s.gold].continuation + delimiter for s in shots)
    return Item(item.id, tuple(Choice(prefix + c.context, c.continuation) for c in item.choices), item.gold,
                item.norm_lengths)


def shots_from_tail(items: list[Item], shots: int, delimiter: str = "\n\n") -> list[Item]:
    """Few-shot for a task with only a test split: the last `shots` items become the examples
    and are left out of scoring."""
    examples = items[len(items) - shots:] if shots else []
    return [with_shots(item, examples, delimiter) for item in items[:len(items) - shots]]


def flores_code(code: str) -> str:
    """A task file's language code as the registry's FLORES code (XWinograd writes jp); a
    FLORES-shaped code the registry lacks (SIB-200's nqo_Nkoo) stays as it is."""
    try:
        return languages.resolve_code({"jp": "ja"}.get(code, code))
    except InputError:
        if re.fullmatch(r"[a-z]{3}_[A-Z][a-z]{3}", code):
            return code
        raise


def language_name(code: str) -> str:
    try:
        return languages.get(code).name
    except InputError:
        return code


def hub_rows(repo: str, config: str, split: str) -> list[tuple[int, dict]]:
    """(row number, row) of a hub dataset, through the one asset resolver: offline, it says
    what to download where instead of failing inside datasets."""
    import datasets

    from lingualift.core import assets

    try:
        rows = datasets.load_dataset(str(assets.hub_snapshot(repo, kind="dataset")), config, split=split)
    except (ValueError, FileNotFoundError) as err:
        raise InputError(f"hub dataset {repo} has no config {config} / split {split} ({err})") from None
    return list(enumerate(rows, start=1))


def need(path: Path) -> Path:
    if not path.is_file():
        raise InputError("task file not found (see ../shared/data/README.md for the layout)", path)
    return path


def read_tsv(path: Path, header: bool, columns: int) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of a TSV; no quoting, as these corpora contain bare quotes. Lines
    are decoded by the one rule (core.io.iter_lines): invalid UTF-8 is file:line, not a crash."""
    for number, text, error in iter_lines(need(path)):
        if error:
            raise InputError(error, path, number)
        if header and number == 1:
            continue
        row = text.split("\t") if text else []
        if len(row) < columns:
            raise InputError(f"expected {columns} tab-separated columns, found {len(row)}", path, number)
        yield number, row


def read_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    for number, record, error in iter_json(need(path)):
        if error or not isinstance(record, dict):
            raise InputError(error or "expected a JSON object", path, number)
        yield number, record
