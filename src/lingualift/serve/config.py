"""Settings of `lingualift serve`, shared by the CLI and `create_app`."""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from lingualift.core.config import CommaList, Engine, StrictModel


class ServeSettings(StrictModel):
    host: str = Field("127.0.0.1", description="interface to listen on (0.0.0.0: every interface)")
    port: int = Field(8000, ge=0, le=65535, description="TCP port")
    template: Optional[str] = Field(None, description="default prompt: chat (when the model has a chat template), "
                                                      "llamax-alpaca, tower-chatml, or a Jinja file")
    max_batch_size: int = Field(16, ge=1, description="most prompts (sentences) per generation batch; 1 turns "
                                                      "batching off")
    # long enough for clients sent together to meet, short next to a generation
    max_wait_ms: float = Field(10.0, ge=0, description="how long a batch waits for more prompts before it runs")
    max_texts: int = Field(64, ge=1, description="most texts per /v1/translate request")
    max_chars: int = Field(5000, ge=1, description="most characters per text (a few pages, split into sentences)")
    max_new_tokens: int = Field(256, ge=1, description="longest translation of one sentence, in tokens (requests "
                                                       "may ask for less)")
    max_candidates: int = Field(8, ge=2, le=64, description="most candidates a /v1/translate request may ask "
                                                            "for with decoding mbr / rerank")
    timeout: float = Field(120.0, gt=0, description="seconds before a request is answered 504")
    api_key: Optional[str] = Field(None, description="require this key on every route but /health and the page",
                                   json_schema_extra={"envvar": "LINGUALIFT_API_KEY"})
    cors_origin: CommaList = Field(default_factory=list, description="allow browser calls from these origins "
                                                                     "(* for any)")
    langs: CommaList = Field(default_factory=list, description="languages the model was trained on, marked in "
                                                               "/v1/languages (default: those in its manifests)")
    engine: Engine = "auto"
