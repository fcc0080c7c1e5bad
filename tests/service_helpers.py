"""Helpers for service tests: the shipped model, slow backends, a running server."""

from __future__ import annotations

import asyncio
import time
from contextlib import contextmanager

import httpx

from mood_tagger.backends.base import Backend, TagResult
from mood_tagger.backends.classifier import ClassifierBackend
from mood_tagger.model import TaggerModel

_SHIPPED: TaggerModel | None = None


def shipped_backend() -> ClassifierBackend:
    """The model that ships in mood_tagger/models/default, loaded once per test session."""
    global _SHIPPED
    if _SHIPPED is None:
        _SHIPPED = TaggerModel.load()
    return ClassifierBackend(_SHIPPED)


class SlowBackend(Backend):
    """A real backend that takes `delay_s` before answering (a stand-in for a busy host)."""

    name = "slow"

    def __init__(self, delay_s: float):
        self.delay_s = delay_s

    def _result(self) -> TagResult:
        return TagResult("calm", "no", [("calm", 1.0)], 0.0, "slow", "slow", "slow",
                         self.delay_s * 1000)

    def tag(self, exchange, deadline_ms=None) -> TagResult:
        time.sleep(self.delay_s)
        return self._result()

    async def atag(self, exchange, deadline_ms=None) -> TagResult:
        await asyncio.sleep(self.delay_s)
        return self._result()


@contextmanager
def shipped_service_client():
    """An HTTP client to a real server (ephemeral port) serving the shipped n-gram model."""
    from mood_tagger.serving.app import create_app
    from mood_tagger.serving.server import ThreadedServer
    from mood_tagger.settings import Settings
    with ThreadedServer(create_app(Settings(), backend=shipped_backend())) as srv, \
            httpx.Client(base_url=srv.url) as client:
        yield client


def post_chat(http: httpx.Client, content: str, **options) -> httpx.Response:
    """POST /v1/chat/completions with one user message and any chat options."""
    return http.post("/v1/chat/completions",
                     json={"messages": [{"role": "user", "content": content}], **options})
