"""The base of every stage config: strict pydantic models read from YAML with file:line errors.

Every stage's settings are one `StrictModel`. The CLI builds its flags from the fields
(`cli/options.py`), a recipe embeds the model unchanged and the library function takes it,
so an option is added once and spelt the same everywhere. A list field accepts a YAML list
or one comma-separated string (`langs: [sw, th]` or `--langs sw,th`), so any value a recipe
takes the CLI takes in the same spelling, and the reverse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from lingualift.core.io import InputError, read_text

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Unknown keys are errors (a misspelt option must not be ignored)."""

    model_config = ConfigDict(extra="forbid")


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


# A list a user may write as YAML list or as "a,b,c" (the CLI's spelling).
CommaList = Annotated[list[str], BeforeValidator(_split_commas)]
# The same for numbers ("0.25,0.5" or [0.25, 0.5]): pydantic turns each piece into a float.
CommaFloats = Annotated[list[float], BeforeValidator(_split_commas)]
# The weights' type when a model is loaded for inference. fp32 stays the CPU default because it
# is exact and every CPU runs it at full speed; bf16 is the choice on CPUs with native bf16
# (AVX512-BF16 or AMX): 390 vs 124 GFLOP/s on this project's 2-core EPYC (bench/precision.py).
# int8 is the ct2 engine's only: CTranslate2's 8-bit weights, its fastest beam search on CPUs.
Dtype = Annotated[Literal["auto", "bf16", "fp16", "fp32", "int8"],
                  Field(description="auto (bf16 on GPU, fp32 on CPU); bf16 is also fast on CPUs with AVX512-BF16 "
                                    "or AMX; int8: engine ct2 only (8-bit weights)")]
# The generation engine: hf (transformers), vllm (GPUs) or ct2 (CTranslate2, fast greedy
# and beam decoding on CPUs: inference/ct2.py). auto takes vllm where it can run, else hf.
Engine = Annotated[Literal["auto", "hf", "vllm", "ct2"],
                   Field(description="auto (vllm when installed and a GPU is present, else hf) | hf | vllm | ct2 "
                                     "(CTranslate2: pip install 'lingualift[ct2]')")]


def _lines(node, path: tuple = ()) -> dict[tuple, int]:
    """1-based line of every key and list item in a composed YAML document."""
    out: dict[tuple, int] = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            out[(*path, key.value)] = key.start_mark.line + 1
            out.update({k: v for k, v in _lines(value, (*path, key.value)).items() if k != (*path, key.value)})
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out.update(_lines(item, (*path, i)))
    return out


def read_yaml(path: str | Path) -> tuple[Any, dict[tuple, int]]:
    """A YAML document and the line of each key in it; syntax errors name file and line."""
    text = read_text(path, what="config file")
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise InputError(f"invalid YAML ({getattr(err, 'problem', err)})", path,
                         mark.line + 1 if mark else None) from None
    return data, (_lines(node) if node is not None else {})


def explain(err: ValidationError, lines: dict[tuple, int] | None = None, path=None,
            prefix: tuple = ()) -> InputError:
    """The first problem of a validation error as one line: field path, message, YAML line."""
    first = err.errors()[0]
    loc = tuple(first["loc"])
    where = ".".join(str(p) for p in (*prefix, *loc)) or "top level"
    line = None
    for k in range(len(loc), -1, -1):  # the deepest part of the path the file has
        if lines and (*prefix, *loc[:k]) in lines:
            line = lines[(*prefix, *loc[:k])]
            break
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = f"unknown key {loc[-1]!r}"
    return InputError(f"{where}: {message}", path, line)


def validate(model: type[M], raw: Any, *, path=None, lines: dict[tuple, int] | None = None) -> M:
    try:
        return model.model_validate(raw if raw is not None else {})
    except InputError as err:  # e.g. an unknown language inside the config
        raise InputError(err.message, path or err.path, err.line) from None
    except ValidationError as err:
        raise explain(err, lines, path) from None


def load_yaml(path: str | Path, model: type[M]) -> M:
    """Validate a YAML file against `model`; the first problem in one line with file, line and field."""
    data, lines = read_yaml(path)
    return validate(model, data, path=path, lines=lines)


def parse_sets(pairs: list[str]) -> dict[str, Any]:
    """`--set a.b=v` pairs as {dotted key: YAML-typed value}."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"--set {pair!r}: expected KEY=VALUE, e.g. lr=1e-4 or lora.r=8")
        try:
            out[key] = yaml.safe_load(value)
        except yaml.YAMLError:
            out[key] = value
    return out


def set_dotted(raw: dict, dotted: str, value: Any) -> None:
    node = raw
    *parents, leaf = dotted.split(".")
    for key in parents:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[leaf] = value
