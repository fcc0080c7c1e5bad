"""The default backend: the trained multi-task classifier, in process."""

from __future__ import annotations

import time

from mood_tagger.backends.base import Backend, TagResult, register
from mood_tagger.data.schema import Exchange
from mood_tagger.model import load_model


@register("classifier")
class ClassifierBackend(Backend):
    capabilities = frozenset({"in_process", "probabilities"})

    def __init__(self, model):
        self.model = model

    @classmethod
    def from_settings(cls, settings) -> "ClassifierBackend":
        return cls(load_model(settings.model))

    @property
    def model_name(self) -> str:
        return self.model.name

    def tag(self, exchange: Exchange, deadline_ms: float | None = None) -> TagResult:
        start = time.perf_counter()
        p = self.model.predict_one(exchange)
        return TagResult(emotion_name=p.emotion_name, celebrate=p.celebrate,
                         emotion_top=p.emotion_top, celebrate_p=p.celebrate_p,
                         model=self.model.name, backend="classifier", reason="classifier",
                         latency_ms=(time.perf_counter() - start) * 1000)
