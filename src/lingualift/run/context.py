"""What a stage function gets (the Context) and what the runner knows of a stage (Stage)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from lingualift.core.progress import ProgressFactory
from lingualift.run.recipe import Recipe

M = TypeVar("M", bound=BaseModel)


@dataclass
class Context:
    recipe: Recipe
    artifacts: dict[str, str]  # artifact name -> path (or model spec), as made so far
    outputs: dict[str, dict]  # stage -> its declared outputs, for the report
    log: Callable[[str], None] = print
    progress: ProgressFactory | None = None


@dataclass(frozen=True)
class Stage:
    name: str
    needs: tuple[str, ...]  # artifacts read
    makes: tuple[str, ...]  # artifacts written (a subset of the outputs returned)
    run: Callable[[Context, Path, bool], dict] = field(repr=False)


def settings_of(stage, settings: type[M]) -> M:
    """A command's settings out of the recipe stage that embeds them (and adds inputs)."""
    return settings(**stage.model_dump(include=set(settings.model_fields)))
