"""Command-line flags built from a stage's settings model: one definition, three front doors.

`stage_command` turns every scalar, choice and list field of a settings model into a flag of
the same name (`max_new_tokens` -> `--max-new-tokens`; a list is one comma-separated value,
as a recipe may also write it), and adds `--config FILE` (a YAML of the same settings) and
`--set key=value` (any field, nested ones too: `--set lora.r=8`). Flags override the file,
`--set` overrides both; pydantic validates the result, so the CLI, a recipe and the library
refuse the same values with the same words.
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, Optional, Union, get_args, get_origin

import typer
from pydantic import BaseModel, ValidationError

from lingualift.core.config import explain, parse_sets, read_yaml, set_dotted
from lingualift.core.io import InputError

# command path ("eval translate") -> its settings model; the CLI/recipe agreement test walks it
STAGE_COMMANDS: dict[str, type[BaseModel]] = {}
PREFIX = "s__"  # parameter names of generated flags, apart from a command's own inputs


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _unwrap(annotation):
    """The annotation without Optional / Annotated wrappers."""
    while True:
        origin = get_origin(annotation)
        if origin is typing.Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def cli_type(annotation) -> type | None:
    """The type a flag takes for a field, or None for a field only --set / --config reach."""
    base = _unwrap(annotation)
    if base in (bool, int, float, str):
        return base
    if get_origin(base) is Literal:
        return str
    if get_origin(base) is list and get_args(base) and _unwrap(get_args(base)[0]) in (str, float):
        return str  # comma-separated, split (and numbers parsed) by the model's validator
    return None


def flag_fields(model: type[BaseModel]) -> dict[str, type]:
    """Fields of `model` that are flags, with the type each flag parses."""
    return {name: t for name, f in model.model_fields.items() if (t := cli_type(f.annotation)) is not None}


def _help(field) -> str:
    text = field.description or ""
    base = _unwrap(field.annotation)
    if get_origin(base) is Literal:
        text += f" (one of: {' | '.join(map(str, get_args(base)))})"
    if not field.is_required():
        default = field.get_default(call_default_factory=True)
        if isinstance(default, list):
            default = ",".join(map(str, default))
        if default not in (None, "", []):
            text += f" (default: {default})"
    else:
        text += " (required)"
    return text


def _parameters(model: type[BaseModel]) -> list[inspect.Parameter]:
    params = []
    for name, kind in flag_fields(model).items():
        field = model.model_fields[name]
        extra = field.json_schema_extra or {}
        decls = [f"{flag(name)}/--no-{name.replace('_', '-')}"] if kind is bool else [flag(name)]
        option = typer.Option(None, *decls, help=_help(field), envvar=extra.get("envvar"), show_default=False)
        params.append(inspect.Parameter(PREFIX + name, inspect.Parameter.KEYWORD_ONLY, default=option,
                                        annotation=Optional[kind]))
    return params


def build_settings(model: type[BaseModel], flags: dict[str, Any], config: str | None, sets: list[str],
                   io: dict[str, Any] | None = None) -> BaseModel:
    """Settings from a YAML file, then flags, then --set; `io` entries found in the file fill
    the command's inputs that were not given as flags (a training YAML may name model/data/out)."""
    raw: dict = {}
    lines: dict = {}
    if config:
        data, lines = read_yaml(config)
        if data is not None and not isinstance(data, dict):
            raise InputError("expected a mapping of settings", config, 1)
        raw = dict(data or {})
        for key in list(raw):
            if io is not None and key in io and key not in model.model_fields:
                value = raw.pop(key)
                if io[key] is None:
                    io[key] = value
    raw.update({k: v for k, v in flags.items() if v is not None})
    for key, value in parse_sets(sets).items():
        set_dotted(raw, key, value)
    try:
        return model.model_validate(raw)
    except InputError as err:  # an unknown language inside a value
        raise InputError(err.message, config if config else err.path) from None
    except ValidationError as err:
        first = err.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else ""
        if first["type"] == "missing" and len(first["loc"]) == 1 and name in model.model_fields:
            raise InputError(f"{flag(name)} is required ({model.model_fields[name].description})") from None
        if first["type"] == "extra_forbidden" and not config:
            raise InputError(f"--set {'.'.join(map(str, first['loc']))}: unknown setting") from None
        raise explain(err, lines, config) from None


def stage_command(app: typer.Typer, name: str, model: type[BaseModel], *, path: str | None = None,
                  config_help: str | None = None) -> Callable:
    """Register `fn(settings, **inputs)` as command `name` of `app` with flags for every setting.

    `fn`'s own keyword parameters (typer Options/Arguments) are the command's inputs and outputs."""

    def wrap(fn: Callable) -> Callable:
        hints = typing.get_type_hints(fn)  # the module's `from __future__ import annotations` strings
        own = [p.replace(annotation=hints.get(p.name, p.annotation))
               for p in list(inspect.signature(fn).parameters.values())[1:]]
        extra = [
            inspect.Parameter("config", inspect.Parameter.KEYWORD_ONLY, annotation=Optional[str], default=typer.Option(
                None, "--config", help=config_help or "YAML file with these settings; flags and --set override it.")),
            inspect.Parameter("sets", inspect.Parameter.KEYWORD_ONLY, annotation=list[str], default=typer.Option(
                [], "--set", help="KEY=VALUE for any setting, YAML-typed (lr=1e-4, lora.r=8); repeatable.")),
        ]

        @functools.wraps(fn)
        def command(**kwargs):
            flags = {k[len(PREFIX):]: kwargs.pop(k) for k in list(kwargs) if k.startswith(PREFIX)}
            config, sets = kwargs.pop("config"), kwargs.pop("sets")
            settings = build_settings(model, flags, config, sets, kwargs)
            return fn(settings, **kwargs)

        params = [*own, *_parameters(model), *extra]
        command.__signature__ = inspect.Signature(params)
        command.__annotations__ = {p.name: p.annotation for p in params}
        del command.__wrapped__  # typer must read the signature above, not fn's
        app.command(name)(command)
        STAGE_COMMANDS[path or name] = model
        return fn

    return wrap
