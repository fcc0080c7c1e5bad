"""The accurate tier: the fine-tuned e5-small encoder (ONNX, CPU or GPU), with the n-gram
classifier as its deadline fallback.

    reason            backend      when
    encoder           encoder      the encoder answered within the deadline
    encoder_timeout   classifier   the deadline passed first (overload, slow machine)
    encoder_error     classifier   the encoder failed (logged)

From the event loop, requests go through a MicroBatcher (one worker thread, batches of up
to 16 gathered within 2 ms), so the loop never blocks on the model.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace

from mood_tagger.backends.base import Backend, TagResult, register
from mood_tagger.backends.batcher import MicroBatcher
from mood_tagger.backends.classifier import ClassifierBackend
from mood_tagger.data.schema import Exchange
from mood_tagger.model.encoder_model import EncoderModel
from mood_tagger.model.protocol import Prediction

log = logging.getLogger("mood_tagger.encoder")
SAFETY_MARGIN_MS = 2.0


@register("encoder")
class EncoderBackend(Backend):
    capabilities = frozenset({"in_process", "probabilities", "batched"})

    def __init__(self, model: EncoderModel, fallback: Backend, *, default_deadline_ms: float = 50.0,
                 max_batch: int = 16, max_wait_ms: float = 2.0):
        self.model, self.fallback = model, fallback
        self.default_deadline_ms = default_deadline_ms
        self.batcher: MicroBatcher[Exchange, Prediction] = MicroBatcher(
            model.predict, max_batch=max_batch, max_wait_ms=max_wait_ms, name="encoder")

    @classmethod
    def from_settings(cls, settings) -> "EncoderBackend":
        return cls(EncoderModel.load(settings.encoder_model), ClassifierBackend.from_settings(settings),
                   default_deadline_ms=settings.default_deadline_ms,
                   max_batch=settings.encoder_max_batch, max_wait_ms=settings.encoder_max_wait_ms)

    @property
    def model_name(self) -> str:
        return self.model.name

    def _result(self, p: Prediction, start: float) -> TagResult:
        return TagResult(emotion_name=p.emotion_name, celebrate=p.celebrate, emotion_top=p.emotion_top,
                         celebrate_p=p.celebrate_p, model=self.model.name, backend="encoder",
                         reason="encoder", latency_ms=(time.perf_counter() - start) * 1000)

    def tag(self, exchange: Exchange, deadline_ms: float | None = None) -> TagResult:
        """Inline, for the CLI, eval and bench: one exchange, one forward pass."""
        start = time.perf_counter()
        return self._result(self.model.predict_one(exchange), start)

    async def atag(self, exchange: Exchange, deadline_ms: float | None = None) -> TagResult:
        start = time.perf_counter()
        budget = self.default_deadline_ms if deadline_ms is None else deadline_ms
        fallback = self.fallback.tag(exchange)          # ~0.3 ms, always ready
        left = budget - (time.perf_counter() - start) * 1000 - SAFETY_MARGIN_MS
        reason = "encoder_timeout"
        if left > 0:
            fut = asyncio.ensure_future(self.batcher.submit(exchange, start + (budget - SAFETY_MARGIN_MS) / 1000))
            try:
                return self._result(await asyncio.wait_for(asyncio.shield(fut), left / 1000), start)
            except asyncio.TimeoutError:
                fut.cancel()
            except asyncio.CancelledError:
                if fut.cancelled():               # dropped by the batcher: expired
                    pass
                else:
                    raise
            except Exception as exc:              # noqa: BLE001 - the fallback is always there
                log.error("encoder failed with %s; answering with the classifier",
                          type(exc).__name__, exc_info=exc)
                reason = "encoder_error"
        return replace(fallback, backend="classifier", reason=reason,
                       latency_ms=(time.perf_counter() - start) * 1000)

    def close(self) -> None:
        self.batcher.close()

    async def aclose(self) -> None:
        await self.batcher.aclose()
