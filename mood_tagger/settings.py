"""Typed configuration in one place; every field can be set as MOOD_TAGGER_<NAME>."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mood_tagger.model.classifier import default_model_path
from mood_tagger.model.encoder_model import default_encoder_path


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MOOD_TAGGER_", extra="ignore",
                                      protected_namespaces=())

    model: Path = Field(default_factory=default_model_path, description="classifier model folder")
    backend: str = "encoder"          # the accurate tier, n-gram fallback (docs/model-selection.md)
    # HTTP service
    host: str = "127.0.0.1"
    port: int = Field(default=7862, ge=0, le=65535)
    workers: int = Field(default=1, ge=1)
    api_key: str | None = None
    api_key_file: Path | None = None  # the key read from a file, so it is not in `ps`
    log_requests: bool = False          # opt-in: children's messages are private
    json_access_log: bool = True        # one JSON line per request on stderr (no texts)
    max_body_bytes: int = Field(default=16 * 1024 * 1024, gt=0)
    default_deadline_ms: float = Field(default=50.0, gt=0)
    # overload and connections (issue 8; mood_tagger/serving/admission.py, server.py)
    max_concurrency: int = Field(default=64, ge=0, description="taggings at once (0: no limit)")
    max_queue: int = Field(default=256, ge=0, description="taggings waiting for a slot")
    overload_503: bool = False          # shed with 503 + Retry-After instead of the fallback tag
    limit_connections: int = Field(default=4096, ge=1, description="open connections, then 503")
    keep_alive_s: float = Field(default=5.0, gt=0, description="idle keep-alive timeout")
    max_header_bytes: int = Field(default=64 * 1024, gt=0)
    graceful_shutdown_s: float = Field(default=10.0, gt=0)
    allowed_hosts: str = ""             # comma-separated Host header allowlist ("" = any)
    # LLM backend (OpenAI-compatible server: vLLM, TensorRT-LLM, SGLang, llama.cpp, Ollama)
    llm_base_url: str = "http://127.0.0.1:8000/v1"
    llm_model: str = "microsoft/Phi-3-mini-4k-instruct"
    llm_api_key: str | None = None
    llm_api_key_file: Path | None = None  # the LLM server's key from a file, not in `ps`
    llm_dialect: str = "vllm"
    llm_timeout_ms: float = Field(default=1000.0, gt=0)
    llm_mode: str = "json"              # "json" or "one-token"
    cascade_threshold: float = Field(default=0.6, ge=0.0, le=1.0)
    cascade_tiers: str = "classifier,openai"    # backends by name, first answers always
    # encoder tier (the fine-tuned e5-small, ONNX)
    encoder_model: Path = Field(default_factory=default_encoder_path, description="encoder model folder")
    encoder_missing_ok: bool = Field(False, description="an encoder model that does not load leaves the "
                                     "n-gram model answering (reason encoder_missing, /readyz degraded) "
                                     "instead of an error; `serve` sets it")
    encoder_device: str = Field(default="cpu", description="cpu (onnxruntime), cuda (torch + CUDA "
                                "graphs, extra [gpu]) or torch-cpu")
    encoder_max_batch: int = Field(default=16, ge=1, le=256)
    encoder_max_wait_ms: float = Field(default=2.0, ge=0.0, le=50.0)
    encoder_emotion_weight: float = Field(default=0.5, ge=0.0, le=1.0,
                                          description="encoder share of the emotion blend (1: encoder only)")

    @field_validator("api_key")
    @classmethod
    def _no_empty_key(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("MOOD_TAGGER_API_KEY is set but empty, which would disable auth; "
                             "unset it to serve without a key, or set a non-empty key")
        return value

    @model_validator(mode="after")
    def _keys_from_files(self) -> "Settings":
        for key_field, flag in (("api_key", "--api-key-file"), ("llm_api_key", "--llm-api-key-file")):
            path = getattr(self, key_field + "_file")
            if path is None or getattr(self, key_field) is not None:
                continue
            try:
                key = path.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(f"{flag} {path}: {exc.strerror}") from exc
            if not key:
                raise ValueError(f"{flag} {path} is empty; write the key into it (one line)")
            object.__setattr__(self, key_field, key)
        return self

    def with_overrides(self, **values) -> "Settings":
        """A validated copy with the non-None values of CLI flags applied."""
        data = self.model_dump() | {k: v for k, v in values.items() if v is not None}
        return Settings.model_validate(data)
