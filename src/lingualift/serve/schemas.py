"""Request and response bodies of the HTTP API (they are also its OpenAPI schema)."""

from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

from lingualift.quality.config import Strategy, Utility

# Templates a request may pick by name; a Jinja file is a server setting, never a request's
# (requests get no file system access).
REQUEST_TEMPLATES = ("llamax-alpaca", "tower-chatml", "chat")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt option is an error, not ignored


class TranslateOptions(_Body):
    max_new_tokens: Optional[int] = Field(None, ge=1, description="per sentence; capped by the server")
    num_beams: int = Field(1, ge=1, le=8)
    template: Optional[Literal[REQUEST_TEMPLATES]] = Field(None, description="default: the server's")
    split_sentences: bool = Field(True, description="translate long texts sentence by sentence")
    decoding: Strategy = Field(
        "standard", description="standard (greedy / beam), mbr (minimum Bayes risk over the beam's `candidates` "
                                "best) or rerank (the documented QE heuristic over them)")
    candidates: int = Field(8, ge=2, le=64, description="candidates per sentence for mbr / rerank; capped by "
                                                        "the server (max_candidates)")
    utility: Utility = Field("chrf++", description="MBR utility")


class TranslateRequest(_Body):
    texts: list[str] = Field(..., min_length=1, examples=[["Good morning, how are you?"]])
    source_lang: str = Field(..., examples=["eng_Latn"], description="FLORES code, ISO code or name")
    target_lang: str = Field(..., examples=["swh_Latn"])
    options: TranslateOptions = Field(default_factory=TranslateOptions)
    stream: bool = Field(False, description="answer with server-sent events: one per sentence as it is done, "
                                            "then the whole response")


class ErrorDetail(BaseModel):
    message: str
    type: str
    code: int


class ErrorResponse(BaseModel):
    """Every status but 2xx, in OpenAI's shape (clients written for OpenAI read it)."""

    error: ErrorDetail


# Declared on each route so the OpenAPI schema tells clients (and schemathesis) the truth: a
# 422 is this shape, not FastAPI's default {"detail": [...]}, and 5xx is JSON too.
_WHY = {400: "malformed JSON, unknown language, a text that is not encodable (a lone surrogate)",
        401: "missing or wrong API key", 413: "too many texts or characters, or a body over the limit",
        422: "a body that does not fit the schema", 500: "an internal error (the server log has it)",
        504: "the request outlived the server's timeout"}


# The 200 of a route that may stream: JSON, or with stream true, server-sent events. The schema
# describes one event (OpenAPI before 3.2 reads `schema` so): unnamed, its data one JSON object
# (a chunk, a sentence, the whole response or an error; serve/stream.py) or chat's closing [DONE].
STREAMED = {200: {"content": {"text/event-stream": {"schema": {
    "type": "object", "required": ["data"],
    "properties": {"data": {"type": "string"}, "event": {"const": "message"}}}}},
    "description": "JSON; with stream true, server-sent events (data: lines, serve/stream.py)"}}


def error_responses(*statuses: int) -> dict[int, dict]:
    return {status: {"model": ErrorResponse, "description": _WHY[status]} for status in statuses}


class Timing(BaseModel):
    seconds: float
    sentences: int


class TranslateResponse(BaseModel):
    translations: list[str]
    source_lang: str
    target_lang: str
    model: str
    template: str
    decoding: str = Field(description="how each translation was chosen: standard, or mbr / rerank with its "
                                      "utility or score, candidates and where they came from")
    timing: Timing


class Language(BaseModel):
    code: str
    name: str
    iso639_1: Optional[str]
    iso639_3: str
    script: str
    tier: str
    trained: bool


class LanguagesResponse(BaseModel):
    model: str
    languages: list[Language]


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class ChatRequest(BaseModel):
    """The part of OpenAI's chat completions request that clients send; other OpenAI fields
    (user, logprobs, ...) are accepted and ignored, as OpenAI-compatible servers do."""

    model: Optional[str] = None
    messages: list[ChatMessage] = Field(..., min_length=1)
    max_tokens: Optional[int] = Field(None, ge=1)
    max_completion_tokens: Optional[int] = Field(None, ge=1)
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    n: int = Field(1, ge=1, le=1)
    stream: bool = False
    stop: Union[str, list[str], None] = None
    seed: Optional[int] = None


class ChatChoice(BaseModel):
    index: int
    message: ChatMessage
    finish_reason: Literal["stop", "length"]


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatResponse(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage
