"""Typed configuration in one place; every field can be set as MOOD_TAGGER_<NAME>."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
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
    log_requests: bool = False          # opt-in: children's messages are private
    max_body_bytes: int = Field(default=16 * 1024 * 1024, gt=0)
    default_deadline_ms: float = Field(default=50.0, gt=0)
    # LLM backend (OpenAI-compatible server: vLLM, TensorRT-LLM, SGLang, llama.cpp, Ollama)
    llm_base_url: str = "http://127.0.0.1:8000/v1"
    llm_model: str = "microsoft/Phi-3-mini-4k-instruct"
    llm_api_key: str | None = None
    llm_dialect: str = "vllm"
    llm_timeout_ms: float = Field(default=1000.0, gt=0)
    llm_mode: str = "json"              # "json" or "one-token"
    cascade_threshold: float = Field(default=0.6, ge=0.0, le=1.0)
    cascade_tiers: str = "classifier,openai"    # backends by name, first answers always
    # encoder tier (the fine-tuned e5-small, ONNX)
    encoder_model: Path = Field(default_factory=default_encoder_path, description="encoder model folder")
    encoder_max_batch: int = Field(default=16, ge=1, le=256)
    encoder_max_wait_ms: float = Field(default=2.0, ge=0.0, le=50.0)
    encoder_emotion_weight: float = Field(default=0.5, ge=0.0, le=1.0,
                                          description="encoder share of the emotion blend (1: encoder only)")

    def with_overrides(self, **values) -> "Settings":
        """A validated copy with the non-None values of CLI flags applied."""
        data = self.model_dump() | {k: v for k, v in values.items() if v is not None}
        return Settings.model_validate(data)
