"""Request and response bodies of the HTTP API (they are the OpenAPI schema)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mood_tagger.data.inputs import DEFAULT_MAX_CHARS, DEFAULT_MAX_TURNS

MAX_BATCH = 256

class TurnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["pika", "child"]
    text: str = Field(max_length=DEFAULT_MAX_CHARS)


class TagRequest(BaseModel):
    # unknown fields are refused (a typo'd "histroy" must not vanish); numbers are strict
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "user_last_message": "Dạ, con voi ăn cỏ ạ.",
        "pika_response": "Đúng rồi, con giỏi lắm! Voi là loài động vật ăn thực vật.",
        "history": [{"role": "pika", "text": "Con voi ăn gì nhỉ?"}]}]})

    user_last_message: str = Field(min_length=1, max_length=DEFAULT_MAX_CHARS,
                                   description="the child's last message")
    pika_response: str = Field(min_length=1, max_length=DEFAULT_MAX_CHARS,
                               description="Pika's reply, as its LLM wrote it")
    history: list[TurnIn] | None = Field(default=None, max_length=DEFAULT_MAX_TURNS,
                                         description="earlier turns, oldest first")
    deadline_ms: float | None = Field(default=None, gt=0, le=60_000, strict=True,
                                      description="answer within this many ms (default 50)")


class TagResponse(BaseModel):
    emotion_name: str
    celebrate: Literal["yes", "no"]
    emotion_top: list[list[str | float]] = Field(description="top 3 [tag, probability] pairs")
    celebrate_p: float | None
    model: str
    backend: str
    reason: str
    latency_ms: float


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[TagRequest] = Field(min_length=1, max_length=MAX_BATCH)


class BatchResponse(BaseModel):
    results: list[TagResponse]


MAX_CHAT_CONTENT = 64_000


class ContentPart(BaseModel):
    """An OpenAI content part; only {"type": "text", "text": "..."} parts are read."""

    model_config = ConfigDict(extra="allow")
    type: str = "text"
    text: str | None = Field(default=None, max_length=MAX_CHAT_CONTENT)


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[ContentPart] | None = Field(default=None, max_length=MAX_CHAT_CONTENT)


class ChatRequest(BaseModel):
    """The OpenAI chat-completions request; the options beyond these are checked one by one in
    serving/chat_params.py (honoured, or refused with a 400 naming them)."""

    model_config = ConfigDict(extra="allow")
    model: str = "mood-tagger"
    messages: list[ChatMessage] = Field(min_length=1, max_length=64)
    temperature: float | None = None
    max_tokens: int | None = Field(default=None, strict=True)
    response_format: dict | None = None
    stream: bool | None = Field(default=False, strict=True)

    @field_validator("model")
    @classmethod
    def _model_is_utf8(cls, value: str) -> str:
        """A lone surrogate ("\\ud800") cannot be echoed back as UTF-8 (issue 8: it gave 500)."""
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(f"contains a lone surrogate at position {exc.start}; send a model "
                             "name of valid Unicode, e.g. \"mood-tagger\"") from None
        return value


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail
