"""The backend interface: `tag(exchange, deadline_ms)` → TagResult, sync and async."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Callable

from mood_tagger.data.schema import Exchange
from mood_tagger.errors import InputError


@dataclass(slots=True)
class TagResult:
    emotion_name: str
    celebrate: str
    emotion_top: list[tuple[str, float]] = field(default_factory=list)
    celebrate_p: float | None = None
    model: str = ""
    backend: str = ""
    reason: str = ""
    latency_ms: float = 0.0

    def to_dict(self) -> dict:
        data = asdict(self)
        data["emotion_top"] = [[t, round(p, 4)] for t, p in self.emotion_top]
        data["latency_ms"] = round(self.latency_ms, 3)
        if self.celebrate_p is not None:
            data["celebrate_p"] = round(self.celebrate_p, 4)
        return data


class Backend(ABC):
    """Tags one exchange. Implementations register themselves with @register("name")."""

    name: str = "abstract"

    @abstractmethod
    def tag(self, exchange: Exchange, deadline_ms: float | None = None) -> TagResult:
        """Tag synchronously (CLI, eval, bench)."""

    async def atag(self, exchange: Exchange, deadline_ms: float | None = None) -> TagResult:
        """Tag from the event loop; CPU-only backends answer inline."""
        return self.tag(exchange, deadline_ms)

    @property
    def model_name(self) -> str:
        return self.name

    async def aclose(self) -> None:
        """Release connections; nothing to do for in-process backends."""

    def close(self) -> None:
        """Release connections held by the sync path."""


_REGISTRY: dict[str, Callable[..., Backend]] = {}


def register(name: str):
    def wrap(factory):
        _REGISTRY[name] = factory
        factory.name = name
        return factory
    return wrap


def _load_builtin() -> None:
    # Importing the modules runs their @register decorators.
    from mood_tagger.backends import cascade, classifier, openai_compat  # noqa: F401


def create_backend(name: str, settings) -> Backend:
    """Build the backend `name` from a Settings object."""
    _load_builtin()
    if name not in _REGISTRY:
        raise InputError(f"unknown backend {name!r}; expected one of {sorted(_REGISTRY)} "
                         "(--backend or MOOD_TAGGER_BACKEND)")
    return _REGISTRY[name].from_settings(settings)
