"""The accurate tier: the fine-tuned e5-small encoder (ONNX, CPU or GPU), with the n-gram
classifier as its deadline fallback.

    reason            backend      when
    encoder           encoder      the encoder answered within the deadline
    encoder_timeout   classifier   the deadline passed first (overload, slow machine)
    encoder_error     classifier   the encoder failed (logged)
    encoder_missing   classifier   `serve` could not load the encoder model (logged once;
                                   /readyz reports the tier "missing", the service keeps serving)

The emotion answer averages the encoder's and the n-gram model's calibrated probabilities
(`emotion_weight` on the encoder, 0.5 by default: measured in docs/model-selection.md, it lifts
emotion on dev-hard and the writer-disjoint test set); celebrate is the encoder's alone.

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
from mood_tagger.errors import ModelError
from mood_tagger.model.encoder_model import EncoderModel
from mood_tagger.model.protocol import Prediction, to_predictions

log = logging.getLogger("mood_tagger.encoder")
SAFETY_MARGIN_MS = 2.0


@register("encoder")
class EncoderBackend(Backend):
    capabilities = frozenset({"in_process", "probabilities", "batched"})

    def __init__(self, model: EncoderModel, fallback: Backend, *, default_deadline_ms: float = 50.0,
                 max_batch: int = 16, max_wait_ms: float = 2.0, emotion_weight: float = 0.5):
        if not 0.0 <= emotion_weight <= 1.0:
            raise ValueError(f"emotion_weight must be within [0, 1], got {emotion_weight}")
        self.model, self.fallback = model, fallback
        self.emotion_weight = emotion_weight
        self.default_deadline_ms = default_deadline_ms
        self.batcher: MicroBatcher[Exchange, Prediction] = MicroBatcher(
            self.predict, max_batch=max_batch, max_wait_ms=max_wait_ms, name="encoder")

    def predict(self, exchanges) -> list[Prediction]:
        """Encoder predictions with the emotion distribution blended with the n-gram model's."""
        emo, cel = self.model.predict_proba(exchanges)
        ngram = getattr(self.fallback, "model", None)
        if self.emotion_weight < 1.0 and ngram is not None:
            emo = self.emotion_weight * emo + (1 - self.emotion_weight) * ngram.predict_proba(exchanges)[0]
        return to_predictions(emo, cel, self.model.calibration)

    @classmethod
    def from_settings(cls, settings) -> "Backend":
        fallback = ClassifierBackend.from_settings(settings)
        try:
            model = EncoderModel.load(settings.encoder_model, device=settings.encoder_device)
        except ModelError as exc:
            if not settings.encoder_missing_ok:
                raise
            log.error("encoder tier unavailable, the n-gram model answers for it: %s", exc)
            return UnavailableEncoder(fallback, str(exc))
        return cls(model, fallback,
                   default_deadline_ms=settings.default_deadline_ms,
                   max_batch=settings.encoder_max_batch, max_wait_ms=settings.encoder_max_wait_ms,
                   emotion_weight=settings.encoder_emotion_weight)

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
        return self._result(self.predict([exchange])[0], start)

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


class UnavailableEncoder(Backend):
    """The encoder tier of a service whose encoder model could not be loaded: the n-gram
    model answers every request (`reason: encoder_missing`); readiness reads `unavailable`."""

    name = "encoder"
    capabilities = frozenset({"in_process", "probabilities"})

    def __init__(self, fallback: Backend, detail: str):
        self.fallback, self.unavailable = fallback, detail

    @property
    def model_name(self) -> str:
        return self.fallback.model_name

    def tag(self, exchange: Exchange, deadline_ms: float | None = None) -> TagResult:
        return replace(self.fallback.tag(exchange), backend="classifier", reason="encoder_missing")
