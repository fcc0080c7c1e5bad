"""Admission control (issue 8): deadlines counted from acceptance, a concurrency limit with a
bounded queue, and the fallback tag at once when a deadline can no longer be met.

    reason            when
    deadline_passed   the request was older than its deadline before tagging began
    overloaded        the queue was full, or no tagging slot freed up before the deadline

Such a request is answered at once by the cheap tier (the n-gram classifier, ~0.2 ms) with
its reason, or, with `overload_503`, gets 503 and `Retry-After: 1`. A late answer is never
the outcome: `latency_ms` is the time since the server accepted the request.
Metrics: mood_tagger_in_flight, mood_tagger_queued (gauges), mood_tagger_shed_total{reason}.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from dataclasses import replace

from prometheus_client import CollectorRegistry, Counter, Gauge

from mood_tagger.backends.base import Backend, TagResult
from mood_tagger.errors import ModelError


class Overloaded(ModelError):
    """Shed with 503 (overload_503 set): the client should retry after `Retry-After` seconds."""
    kind = "overloaded"
    headers = {"Retry-After": "1"}


def fallback_backend(backend: Backend) -> Backend | None:
    """The cheap local tier of a backend: the encoder's fallback, the cascade's first tier,
    the classifier itself; None for a remote-only backend (then a fixed neutral tag)."""
    cheap = getattr(backend, "fallback", None) or getattr(backend, "tiers", (backend,))[0]
    return None if "remote" in getattr(cheap, "capabilities", ()) else cheap


def fallback_tag(backend: Backend, exchange, reason: str, arrived: float) -> TagResult:
    cheap = fallback_backend(backend)
    if cheap is None:
        result = TagResult("calm", "no", [("calm", 1.0)], None, backend.model_name, "fixed",
                           reason, 0.0)
    else:
        result = cheap.tag(exchange)
    return replace(result, reason=reason, latency_ms=(time.perf_counter() - arrived) * 1000)


class Admission:
    """At most `max_concurrency` taggings at once (0: no limit), at most `max_queue` waiting."""

    def __init__(self, max_concurrency: int, max_queue: int, overload_503: bool,
                 registry: CollectorRegistry):
        self.limit, self.max_queue, self.overload_503 = max_concurrency, max_queue, overload_503
        self._slots = asyncio.Semaphore(max_concurrency) if max_concurrency > 0 else None
        self.queued = 0
        self.in_flight_gauge = Gauge("mood_tagger_in_flight", "taggings running now",
                                     registry=registry)
        self.queued_gauge = Gauge("mood_tagger_queued", "taggings waiting for a slot",
                                  registry=registry)
        self.shed = Counter("mood_tagger_shed", "requests answered by the fallback or 503 "
                            "because of overload or an expired deadline", ["reason"],
                            registry=registry)

    def refuse(self, reason: str) -> None:
        """Count a shed request; raise Overloaded when shedding answers 503."""
        self.shed.labels(reason).inc()
        if self.overload_503:
            raise Overloaded(f"the service is overloaded ({reason}); retry after 1 s")

    @asynccontextmanager
    async def slot(self, left_ms: float):
        """Yields True with a tagging slot, False when none freed up within `left_ms`."""
        if self._slots is None:
            yield True
            return
        if self._slots.locked():
            if self.queued >= self.max_queue:
                yield False
                return
            self.queued += 1
            self.queued_gauge.inc()
            try:
                await asyncio.wait_for(self._slots.acquire(), left_ms / 1000)
            except TimeoutError:
                yield False
                return
            finally:
                self.queued -= 1
                self.queued_gauge.dec()
        else:
            await self._slots.acquire()
        self.in_flight_gauge.inc()
        try:
            yield True
        finally:
            self.in_flight_gauge.dec()
            self._slots.release()
