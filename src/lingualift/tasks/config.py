"""Settings of `eval tasks`, shared by the CLI and the library."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from lingualift.core.config import CommaList, Dtype, StrictModel

ALL_TASKS = ["xnli", "xcopa", "pawsx", "xwinograd", "sib200", "belebele", "mgsm"]
# A run's default suites: the multiple-choice tasks (MGSM's chain-of-thought generation costs
# more than the rest together); retention on the English tasks ../shared/data holds.
TARGET_TASKS = ["xnli", "xcopa", "pawsx", "xwinograd", "sib200", "belebele"]
RETENTION_TASKS = ["xnli", "pawsx", "xwinograd", "belebele", "sib200"]
DEFAULT_TASKS_DATA = "../shared/data/tasks"


class TasksSettings(StrictModel):
    tasks: CommaList = Field(default_factory=lambda: list(ALL_TASKS), description=", ".join(ALL_TASKS))
    langs: CommaList = Field(default_factory=list, description="only these languages (any code or name); "
                                                               "default: all of each task")
    shots: Optional[int] = Field(None, ge=0, description="few-shot examples (default: each task's; MGSM 8, others 0)")
    limit: Optional[int] = Field(None, ge=1, description="only the first N items per task and language")
    format: Literal["lm-eval", "llamax"] = Field("lm-eval", description="lm-eval (lm-evaluation-harness prompts) "
                                                 "or llamax (Alpaca instruction prompts; xnli, xcopa, sib200, mgsm)")
    batch_size: int = Field(8, ge=1, description="sequences per forward pass / generation batch")
    dtype: Dtype = "auto"
