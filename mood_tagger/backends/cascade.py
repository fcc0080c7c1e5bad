"""The cascade: the classifier answers first; the LLM only when it is unsure and time allows.

    reason          backend      when
    confident       classifier   top emotion probability ≥ cascade_threshold (1.0: always ask)
    no_time_left    classifier   the deadline leaves less than SAFETY_MARGIN_MS + MIN_LLM_MS
    llm             openai       the LLM answered in time with a valid tag
    llm_timeout     classifier   the LLM did not answer before the deadline
    llm_http_error  classifier   the LLM server failed (HTTP error, refused, connection lost)
    llm_invalid_output classifier the LLM answered something outside LABELS.md
    llm_error       classifier   any other exception from the LLM call (logged with its traceback)

The answer always comes within the deadline plus a few ms: the LLM call gets the time that is
left minus a safety margin as its deadline, and the LLM backend keeps it as a total budget
(OpenAICompatBackend: Future.result(timeout) in `tag`, its one asyncio.wait_for in `atag`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from mood_tagger.backends.base import Backend, TagResult, register
from mood_tagger.backends.classifier import ClassifierBackend
from mood_tagger.backends.openai_compat import OpenAICompatBackend
from mood_tagger.data.schema import Exchange
from mood_tagger.errors import BackendError, UpstreamHTTPError, UpstreamInvalidOutput, UpstreamTimeout

log = logging.getLogger("mood_tagger.cascade")
SAFETY_MARGIN_MS = 3.0      # kept back for returning the answer after the LLM gives up
MIN_LLM_MS = 1.0            # below this the LLM is not asked at all
FALLBACK_REASONS = {UpstreamTimeout: "llm_timeout", UpstreamHTTPError: "llm_http_error",
                    UpstreamInvalidOutput: "llm_invalid_output"}


def _fallback_reason(exc: Exception) -> str:
    """The typed errors keep their reason; anything else is "llm_error" and gets logged."""
    reason = next((r for cls, r in FALLBACK_REASONS.items() if isinstance(exc, cls)), "llm_error")
    if not isinstance(exc, BackendError):
        log.error("LLM call failed with an unexpected %s; answering with the classifier",
                  type(exc).__name__, exc_info=exc)
    return reason


@register("cascade")
class CascadeBackend(Backend):
    def __init__(self, classifier: Backend, llm: Backend, *, threshold: float = 0.6,
                 default_deadline_ms: float = 50.0):
        self.classifier, self.llm = classifier, llm
        self.threshold, self.default_deadline_ms = threshold, default_deadline_ms

    @classmethod
    def from_settings(cls, settings) -> "CascadeBackend":
        return cls(ClassifierBackend.from_settings(settings), OpenAICompatBackend.from_settings(settings),
                   threshold=settings.cascade_threshold,
                   default_deadline_ms=settings.default_deadline_ms)

    @property
    def model_name(self) -> str:
        return f"{self.classifier.model_name}+{self.llm.model_name}"

    def _first(self, exchange: Exchange, deadline_ms: float | None):
        """The classifier's answer, and the ms left for the LLM (None: do not ask it)."""
        start = time.perf_counter()
        deadline = self.default_deadline_ms if deadline_ms is None else deadline_ms
        first = self.classifier.tag(exchange)
        top_p = first.emotion_top[0][1] if first.emotion_top else 0.0
        if self.threshold < 1.0 and top_p >= self.threshold:
            return start, first, "confident", None
        left = deadline - (time.perf_counter() - start) * 1000 - SAFETY_MARGIN_MS
        if left < MIN_LLM_MS:
            return start, first, "no_time_left", None
        return start, first, "", left

    @staticmethod
    def _done(result: TagResult, start: float, **changes) -> TagResult:
        return replace(result, latency_ms=(time.perf_counter() - start) * 1000, **changes)

    def tag(self, exchange: Exchange, deadline_ms: float | None = None) -> TagResult:
        start, first, reason, left = self._first(exchange, deadline_ms)
        if left is None:
            return self._done(first, start, backend="classifier", reason=reason)
        try:
            answer = self.llm.tag(exchange, left)
        except Exception as exc:            # noqa: BLE001 - the classifier's answer is always there
            return self._done(first, start, backend="classifier", reason=_fallback_reason(exc))
        return self._done(answer, start)

    async def atag(self, exchange: Exchange, deadline_ms: float | None = None) -> TagResult:
        start, first, reason, left = self._first(exchange, deadline_ms)
        if left is None:
            return self._done(first, start, backend="classifier", reason=reason)
        try:
            answer = await self.llm.atag(exchange, left)
        except Exception as exc:            # noqa: BLE001 - the classifier's answer is always there
            return self._done(first, start, backend="classifier", reason=_fallback_reason(exc))
        return self._done(answer, start)

    def close(self) -> None:
        self.classifier.close()
        self.llm.close()

    async def aclose(self) -> None:
        await self.classifier.aclose()
        await self.llm.aclose()
