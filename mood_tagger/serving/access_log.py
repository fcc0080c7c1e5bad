"""Request ids and structured access logs.

Every response carries `x-request-id`: the caller's own (up to 128 printable ASCII
characters) or a new one. Every request is one JSON line on the "mood_tagger.access" logger:
request id, method, path, status, latency; never the children's texts. Those are logged, on
"mood_tagger.serving", only with `--log-requests` (MOOD_TAGGER_LOG_REQUESTS=true).
"""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid

access_log = logging.getLogger("mood_tagger.access")
MAX_ID_CHARS = 128


def _usable(value: bytes) -> bool:
    return 0 < len(value) <= MAX_ID_CHARS and all(0x21 <= b <= 0x7E for b in value)


def request_id(scope) -> str | None:
    """The id of the request being served (set by RequestIdMiddleware)."""
    return scope.get("state", {}).get("request_id")


class RequestIdMiddleware:
    """Accepts or generates x-request-id, echoes it, and writes one JSON access-log line."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        given = dict(scope["headers"]).get(b"x-request-id", b"")
        rid = given.decode("ascii") if _usable(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        start, status = time.perf_counter(), 500

        async def send_with_id(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"x-request-id", rid.encode("ascii"))]}
            await send(message)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(json.dumps({
                    "event": "request", "ts": round(time.time(), 3), "request_id": rid,
                    "method": scope["method"], "path": scope["path"], "status": status,
                    "latency_ms": round((time.perf_counter() - start) * 1000, 3)}))


def log_tag(logger: logging.Logger, rid: str | None, exchange, result) -> None:
    """The opt-in `--log-requests` line: the texts and the answer, as JSON."""
    logger.info(json.dumps({"event": "tag", "request_id": rid,
                            "user_last_message": exchange.user_last_message,
                            "pika_response": exchange.pika_response,
                            "emotion_name": result.emotion_name, "celebrate": result.celebrate,
                            "backend": result.backend, "reason": result.reason},
                           ensure_ascii=False))


def configure_logging(access: bool = True) -> None:
    """Give mood_tagger's loggers a stderr handler at INFO (uvicorn configures only its own).
    Called by the uvicorn factory of `mood-tagger serve`, not by tests."""
    root = logging.getLogger("mood_tagger")
    if not any(getattr(h, "_mood_tagger", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler._mood_tagger = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    root.propagate = False
    access_log.setLevel(logging.INFO if access else logging.WARNING)
