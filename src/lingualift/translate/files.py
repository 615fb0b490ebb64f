"""`lingualift translate`: a file (or stdin) in, one translation per input line out.

    lingualift translate --model runs/sft-tiny/model --src-lang en --tgt-lang sw notes.txt --out notes.sw.txt

Inputs: plain text (one segment per line), JSONL (`--field`, the record comes back with a
`translation` field) or TSV (`--column`, 1-based; the translation is printed alone).
Empty lines come back empty without asking the model; newlines inside a translation become
spaces, so the output always has as many lines as the input. Lines are read and translated
in chunks, so output streams and memory stays flat. With `--out`, lines go to OUT.partial
as each chunk finishes and the file is renamed to OUT at the end: a killed run started
again with the same command skips the lines already in OUT.partial.

A partial is only continued by the run that made it: OUT.partial.json holds the fingerprint
of its model, settings, languages and input file (size, mtime, inode). A partial from any
other run (another language, model or input, or one without that record) is refused in one
line before the model loads, never continued and never silently deleted: lines translated
by a slow model are worth a look before they go.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from lingualift.core.io import InputError, batched, check_output, decode_line, iter_lines, write_json, writing
from lingualift.core.progress import ProgressFactory, bar
from lingualift.core.records import parse_line
from lingualift.translate.config import FileTranslateSettings

# Lines per generation call: large enough for full length-sorted batches, small enough that
# output streams and a kill loses at most one chunk.
CHUNK = 64


@dataclass
class Line:
    number: int
    text: str  # what is translated
    record: dict | None = None  # JSONL input: the record the translation is added to


def read_input(path: str, field: str = "text", column: int = 1) -> Iterator[Line]:
    """Lines of a text/JSONL/TSV file or stdin ('-'), with file:line errors for bad ones."""
    kind = "jsonl" if ".jsonl" in Path(path).name else "tsv" if Path(path).name.endswith((".tsv", ".tsv.gz")) else "text"
    source = ((i, *decode_line(raw, i == 1)) for i, raw in enumerate(sys.stdin.buffer, start=1)) \
        if path == "-" else iter_lines(path)
    name = "<stdin>" if path == "-" else path
    for number, text, error in source:
        if error:
            raise InputError(error, name, number)
        if kind == "text":
            yield Line(number, text)
        elif kind == "tsv":
            cells = text.split("\t")
            if not text:
                yield Line(number, "")
            elif len(cells) < column:
                raise InputError(f"expected at least {column} tab-separated columns, found {len(cells)}", name, number)
            else:
                yield Line(number, cells[column - 1])
        elif not text.strip():
            yield Line(number, "", {})
        else:
            record, problem = parse_line(text)
            if problem:
                raise InputError(problem, name, number)
            if not isinstance(record, dict) or not isinstance(record.get(field), str):
                raise InputError(f"expected a JSON object with a string {field!r} field", name, number)
            yield Line(number, record[field], record)


def _format(line: Line, translation: str) -> str:
    translation = " ".join(translation.splitlines())
    if line.record is None:
        return translation
    return json.dumps({**line.record, "translation": translation}, ensure_ascii=False) if line.record else ""


def translate_stream(lines: Iterator[Line], translate: Callable[[list[str]], list[str]], sink: TextIO,
                     skip: int = 0, progress: Callable[[int], None] | None = None) -> int:
    """Translate `lines` chunk by chunk into `sink`, skipping the first `skip` (already done)."""
    done = 0
    for chunk in batched(lines, CHUNK):
        todo = [line for line in chunk if line.number > skip]
        if not todo:
            continue
        texts = [line.text for line in todo if line.text.strip()]
        outputs = iter(translate(texts) if texts else [])
        for line in todo:
            sink.write(_format(line, next(outputs) if line.text.strip() else "") + "\n")
        sink.flush()
        done += len(todo)
        if progress:
            progress(len(todo))
    return done


def _complete_lines(path: Path) -> int:
    """Lines fully written to a partial output; a line cut by a kill is dropped."""
    data = path.read_bytes()
    keep = data[:data.rfind(b"\n") + 1]
    if len(keep) != len(data):
        path.write_bytes(keep)
    return keep.count(b"\n")


def fingerprint(settings: FileTranslateSettings, model: str, path: str) -> str:
    """What a partial output was made from: settings, languages, the model (a local model by
    the stamps of its files) and the input file's stamp."""
    from lingualift.core.fingerprint import digest
    from lingualift.lang.languages import resolve_code

    payload = {"settings": settings.model_dump(mode="json"), "model": model,
               "langs": [resolve_code(settings.src_lang), resolve_code(settings.tgt_lang)]}
    return digest(payload, [path] + ([model] if Path(model).exists() else []))


def sidecar(out: str | os.PathLike) -> Path:
    return Path(f"{out}.partial.json")


def _resumable(out: str, path: str, made_by: str) -> None:
    """Refuse, in one line, a partial output this run did not make."""
    partial = Path(f"{out}.partial")
    if path == "-":
        raise InputError("a partial output cannot be resumed from stdin (its input cannot be checked); "
                         "delete it or pass the input file", partial)
    record = sidecar(out)
    try:
        found = json.loads(record.read_text(encoding="utf-8")).get("fingerprint") if record.is_file() else None
    except (ValueError, AttributeError, OSError):
        found = None
    if found != made_by:
        why = "has no record of the run that made it" if found is None else \
            "was made by another run (model, settings, languages or input changed)"
        raise InputError(f"{why}; not resuming: delete it to start over", partial)


def run(settings: FileTranslateSettings, *, model: str, path: str, out: str | None,
        progress: ProgressFactory | None = None) -> int:
    """Translate `path` into `out` (or stdout); returns the number of lines written this run."""
    from lingualift.inference.generate import load_generator
    from lingualift.inference.prompts import get_template
    from lingualift.lang.languages import resolve_code
    from lingualift.quality import decoding

    s = settings
    field, column, template = s.field, s.column, s.template
    src, tgt = resolve_code(s.src_lang), resolve_code(s.tgt_lang)
    if path != "-" and not Path(path).is_file():
        raise InputError("file not found", path)
    made_by = fingerprint(s, model, path)
    if out is not None:
        check_output(out, "file")
        if Path(f"{out}.partial").is_file():
            _resumable(out, path, made_by)
    # A file is read once to check every line (and count them for the progress bar) before the
    # model loads, then streamed again: memory stays flat on any file size.
    total = sum(1 for _ in read_input(path, field, column)) if path != "-" else None
    from lingualift.inference import mt

    mt.check(model, [(src, tgt)])
    generator = load_generator(model, engine=s.engine)
    chosen = get_template(template, generator.tokenizer)
    if chosen.needs_examples:
        raise InputError(f"template {template!r} needs few-shot examples; translate takes llamax-alpaca, "
                         "tower-chatml, chat or a Jinja file")
    params = replace(s.generation(), stop=chosen.stop)

    def translate(texts: list[str]) -> list[str]:
        prompts = [chosen.render(text, src, tgt, []) for text in texts]
        return decoding.translate(generator, prompts, texts, src, tgt, params, lambda o: chosen.extract(o, tgt))[0]

    source = read_input(path, field, column)
    if out is None:
        return translate_stream(source, translate, sys.stdout)
    target, partial = Path(out), Path(f"{out}.partial")
    skip = _complete_lines(partial) if partial.is_file() else 0
    if total is not None and skip > total:
        raise InputError(f"has {skip} lines but the input has {total}; not resuming: delete it to start over",
                         partial)
    with writing(partial):  # a full disk: one line; the partial keeps its whole lines for a resume
        write_json(sidecar(out), {"fingerprint": made_by, "model": model, "input": path})
        with partial.open("a", encoding="utf-8") as sink, bar(progress, "translating", total or 0, skip) as advance:
            written = translate_stream(source, translate, sink, skip, advance)
        os.replace(partial, target)
    sidecar(out).unlink(missing_ok=True)
    return written
