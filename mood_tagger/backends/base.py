"""The backend interface: `tag(exchange, deadline_ms)` → TagResult, sync and async."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field

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
    # What callers may rely on: "in_process" (no network), "probabilities" (emotion_top and
    # celebrate_p are filled), "batched" (concurrent requests share forward passes),
    # "remote" (an upstream server that can be down).
    capabilities: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings) -> "Backend":
        """Build the backend from a Settings object (every registered backend implements it)."""
        raise NotImplementedError(f"{cls.__name__} cannot be built from settings")

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


# Built-in backends by name, as "module:Class", imported only when asked for (no import circle).
BUILTIN = {"classifier": "mood_tagger.backends.classifier:ClassifierBackend",
           "encoder": "mood_tagger.backends.encoder:EncoderBackend",
           "openai": "mood_tagger.backends.openai_compat:OpenAICompatBackend",
           "cascade": "mood_tagger.backends.cascade:CascadeBackend"}
_REGISTRY: dict[str, type[Backend]] = {}


def register(name: str):
    def wrap(factory):
        _REGISTRY[name] = factory
        factory.name = name
        return factory
    return wrap


def backend_class(name: str) -> type[Backend]:
    if name not in _REGISTRY and name in BUILTIN:
        import importlib
        module, _cls = BUILTIN[name].split(":")
        importlib.import_module(module)          # runs its @register
    if name not in _REGISTRY:
        names = sorted(set(BUILTIN) | set(_REGISTRY))
        raise InputError(f"unknown backend {name!r}; expected one of {names} "
                         "(--backend or MOOD_TAGGER_BACKEND)")
    return _REGISTRY[name]


def create_backend(name: str, settings) -> Backend:
    """Build the backend `name` from a Settings object."""
    return backend_class(name).from_settings(settings)
