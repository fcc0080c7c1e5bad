"""Pure-ASGI middleware (cheap on the hot path): auth, request guards, metrics.

Guards answer before the body is parsed: wrong content type (415), body too large (413).
"""

from __future__ import annotations

import hmac
import json
import time

from mood_tagger.serving.metrics import ServiceMetrics

OPEN_PATHS = {"/healthz", "/readyz"}
JSON_BODY_PATHS = {"/v1/tag", "/v1/tag/batch", "/v1/chat/completions"}


def error_payload(status: int, message: str, kind: str, param: str | None = None) -> dict:
    """The one error shape of the service (OpenAI's): {"error": {message, type, param, code}}."""
    return {"error": {"message": message, "type": kind, "param": param, "code": str(status)}}


async def send_error(send, status: int, message: str, kind: str, headers=()) -> None:
    body = json.dumps(error_payload(status, message, kind)).encode()
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
            scheme, _, given = headers.get(b"authorization", b"").partition(b" ")
            ok = scheme.lower() == b"bearer" and hmac.compare_digest(  # RFC 6750: any case
                given.strip(), self.api_key.encode("utf-8"))
            if not ok:
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
                return await self._too_large(send, int(length))
            if length is None:  # chunked: read it all first, so an oversized body is a 413 too
                body, more = b"", True
                while more:
                    message = await receive()
                    body += message.get("body", b"")
                    more = message.get("more_body", False)
                    if len(body) > self.max_body:
                        return await self._too_large(send, len(body))
                receive = _replay(body)
        return await self.app(scope, receive, send)

    async def _too_large(self, send, size: int) -> None:
        self.metrics.errors.labels("body_too_large").inc()
        await send_error(send, 413, f"body of {size}+ bytes exceeds the limit of {self.max_body}; "
                         "send shorter texts or split the batch", "invalid_request_error")


def _replay(body: bytes):
    sent = False

    async def receive():
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}
    return receive


class MetricsMiddleware:
    """Counts and times every request under its route template."""

    def __init__(self, app, metrics: ServiceMetrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        scope.setdefault("state", {})["arrived"] = start  # deadlines count from here
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


class AbuseGuardMiddleware:
    """Header size and Host allowlist, before anything else (issue 8).

    Headers over `max_header_bytes` get 431 (h11 already refuses an incomplete header block
    over the same size with 400, so a huge header is never parsed in full). Only the listed
    Host names are served (DNS rebinding: a web page must not reach a keyless service on
    127.0.0.1 by a name it controls): 421 names the allowed hosts; /healthz stays open."""

    def __init__(self, app, hosts: str, max_header_bytes: int, metrics: ServiceMetrics):
        self.app, self.metrics, self.max_header = app, metrics, max_header_bytes
        self.hosts = {h.strip().lower().encode() for h in hosts.split(",") if h.strip()}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        size = sum(len(k) + len(v) + 4 for k, v in scope["headers"])
        if size > self.max_header:
            self.metrics.errors.labels("headers_too_large").inc()
            return await send_error(send, 431, f"request headers of {size} bytes exceed the limit "
                                    f"of {self.max_header}; send shorter headers",
                                    "invalid_request_error", [(b"connection", b"close")])
        if not self.hosts or scope["path"] in OPEN_PATHS:
            return await self.app(scope, receive, send)
        host = dict(scope["headers"]).get(b"host", b"").lower()
        name = host.rsplit(b":", 1)[0] if not host.endswith(b"]") else host
        if name not in self.hosts and host not in self.hosts:
            self.metrics.errors.labels("host_not_allowed").inc()
            return await send_error(send, 421, f"Host {host.decode('latin-1')!r} is not served here; "
                                    "allowed: " + ", ".join(sorted(h.decode() for h in self.hosts)) +
                                    " (MOOD_TAGGER_ALLOWED_HOSTS)", "invalid_request_error")
        return await self.app(scope, receive, send)
