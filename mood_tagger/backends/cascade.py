"""The cascade: the first tier answers; each later tier only when the answer so far is unsure
and time allows. Tiers are backends by name, in any order (MOOD_TAGGER_CASCADE_TIERS, e.g.
"classifier,encoder,openai"); the reasons below name the LLM tier, an encoder tier says
"encoder", "encoder_timeout", … in the same way.

    reason          backend      when
    confident       classifier   top emotion probability ≥ cascade_threshold (1.0: always ask)
    no_time_left    classifier   the deadline leaves less than SAFETY_MARGIN_MS + MIN_LLM_MS
    llm             openai       the LLM answered in time with a valid tag
    llm_timeout     classifier   the LLM did not answer before the deadline
    llm_busy        classifier   the LLM backend already had its most requests in flight
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
from mood_tagger.data.schema import Exchange
from mood_tagger.errors import (BackendError, UpstreamBusy, UpstreamHTTPError, UpstreamInvalidOutput,
                                UpstreamTimeout)

log = logging.getLogger("mood_tagger.cascade")
SAFETY_MARGIN_MS = 3.0      # kept back for returning the answer after the LLM gives up
MIN_LLM_MS = 1.0            # below this the LLM is not asked at all
FALLBACK_REASONS = {UpstreamBusy: "llm_busy", UpstreamTimeout: "llm_timeout", UpstreamHTTPError: "llm_http_error",
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
    capabilities = frozenset({"probabilities"})

    def __init__(self, first: Backend, *later: Backend, threshold: float = 0.6,
                 default_deadline_ms: float = 50.0):
        if not later:
            raise ValueError("a cascade needs at least two tiers")
        self.tiers = (first, *later)
        self.threshold, self.default_deadline_ms = threshold, default_deadline_ms

    @property
    def classifier(self) -> Backend:
        return self.tiers[0]

    @property
    def llm(self) -> Backend:
        return self.tiers[-1]

    @classmethod
    def from_settings(cls, settings) -> "CascadeBackend":
        from mood_tagger.backends.base import create_backend
        names = [n.strip() for n in settings.cascade_tiers.split(",") if n.strip()]
        if len(names) < 2 or "cascade" in names:
            raise BackendError(f"cascade_tiers={settings.cascade_tiers!r}: name two or more backends "
                               "other than cascade, e.g. 'classifier,encoder,openai'")
        return cls(*(create_backend(n, settings) for n in names), threshold=settings.cascade_threshold,
                   default_deadline_ms=settings.default_deadline_ms)

    @property
    def model_name(self) -> str:
        return "+".join(t.model_name for t in self.tiers)

    def _unsure(self, result: TagResult) -> bool:
        top_p = result.emotion_top[0][1] if result.emotion_top else 0.0
        return self.threshold >= 1.0 or top_p < self.threshold

    @staticmethod
    def _done(result: TagResult, start: float, **changes) -> TagResult:
        return replace(result, latency_ms=(time.perf_counter() - start) * 1000, **changes)

    def _left(self, start: float, deadline: float) -> float | None:
        left = deadline - (time.perf_counter() - start) * 1000 - SAFETY_MARGIN_MS
        return left if left >= MIN_LLM_MS else None

    def tag(self, exchange: Exchange, deadline_ms: float | None = None) -> TagResult:
        start = time.perf_counter()
        deadline = self.default_deadline_ms if deadline_ms is None else deadline_ms
        answer = self.tiers[0].tag(exchange)
        for tier in self.tiers[1:]:
            if not self._unsure(answer):
                return self._done(answer, start, reason="confident")
            left = self._left(start, deadline)
            if left is None:
                return self._done(answer, start, reason="no_time_left")
            try:
                answer = tier.tag(exchange, left)
            except Exception as exc:        # noqa: BLE001 - the answer so far is always there
                return self._done(answer, start, reason=_fallback_reason(exc))
        return self._done(answer, start)

    async def atag(self, exchange: Exchange, deadline_ms: float | None = None) -> TagResult:
        start = time.perf_counter()
        deadline = self.default_deadline_ms if deadline_ms is None else deadline_ms
        answer = self.tiers[0].tag(exchange)
        for tier in self.tiers[1:]:
            if not self._unsure(answer):
                return self._done(answer, start, reason="confident")
            left = self._left(start, deadline)
            if left is None:
                return self._done(answer, start, reason="no_time_left")
            try:
                answer = await tier.atag(exchange, left)
            except Exception as exc:        # noqa: BLE001 - the answer so far is always there
                return self._done(answer, start, reason=_fallback_reason(exc))
        return self._done(answer, start)

    def close(self) -> None:
        for tier in self.tiers:
            tier.close()

    async def aclose(self) -> None:
        for tier in self.tiers:
            await tier.aclose()
