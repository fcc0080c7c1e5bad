"""Pure-ASGI middleware (cheap on the hot path): auth, request guards, metrics.

Guards answer before the body is parsed: wrong content type (415), body too large (413).
"""

from __future__ import annotations

import hmac
import json
import time

from mood_tagger.serving.metrics import ServiceMetrics

OPEN_PATHS = {"/healthz"}
JSON_BODY_PATHS = {"/v1/tag", "/v1/tag/batch", "/v1/chat/completions"}


async def send_error(send, status: int, message: str, kind: str, headers=()) -> None:
    body = json.dumps({"error": {"message": message, "type": kind, "param": None,
                                 "code": str(status)}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


class GuardMiddleware:
    """Bearer-token auth (optional), JSON content type and body-size limit for POSTs."""

    def __init__(self, app, *, api_key: str | None, max_body_bytes: int, metrics: ServiceMetrics):
        self.app, self.api_key, self.max_body = app, api_key, max_body_bytes
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        if self.api_key and scope["path"] not in OPEN_PATHS:
            given = headers.get(b"authorization", b"").decode("latin-1")
            if not hmac.compare_digest(given.encode(), f"Bearer {self.api_key}".encode()):
                self.metrics.errors.labels("unauthorized").inc()
                return await send_error(send, 401, "missing or wrong bearer token; send the header "
                                        "'Authorization: Bearer <MOOD_TAGGER_API_KEY>'",
                                        "authentication_error",
                                        [(b"www-authenticate", b"Bearer")])
        if scope["method"] == "POST" and scope["path"] in JSON_BODY_PATHS:
            ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if ctype != b"application/json":
                self.metrics.errors.labels("unsupported_media_type").inc()
                return await send_error(send, 415, f"content type {ctype.decode('latin-1') or 'none'!r}"
                                        " is not supported; send a JSON body with "
                                        "'Content-Type: application/json'", "invalid_request_error")
            length = headers.get(b"content-length")
            if length is not None and length.isdigit() and int(length) > self.max_body:
                self.metrics.errors.labels("body_too_large").inc()
                return await send_error(send, 413, f"body of {int(length)} bytes exceeds the limit of "
                                        f"{self.max_body}; split the batch", "invalid_request_error")
            receive = self._limited(receive)
        return await self.app(scope, receive, send)

    def _limited(self, receive):
        seen = 0

        async def wrapped():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body:
                # A chunked body over the limit: hand the app an empty, final chunk → 400.
                return {"type": "http.request", "body": b"\x00", "more_body": False}
            return message
        return wrapped


class MetricsMiddleware:
    """Counts and times every request under its route template."""

    def __init__(self, app, metrics: ServiceMetrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(path, scope["method"], status, time.perf_counter() - start)
