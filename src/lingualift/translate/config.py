"""Settings of `lingualift translate` (files and stdin), shared by the CLI and the library."""

from __future__ import annotations

from pydantic import Field

from lingualift.quality.config import DecodingSettings


class FileTranslateSettings(DecodingSettings):
    src_lang: str = Field(..., description="source language (code or name: en, eng_Latn, English)")
    tgt_lang: str = Field(..., description="target language")
    template: str = Field("llamax-alpaca", description="prompt: llamax-alpaca, tower-chatml, chat, or a Jinja file")
    field: str = Field("text", description="JSONL: the field to translate (the record comes back with "
                                           "'translation')")
    column: int = Field(1, ge=1, description="TSV: the 1-based column to translate")
