"""The FastAPI application: /v1/tag, /v1/tag/batch, /v1/chat/completions, /v1/models,
/healthz, /metrics. Errors become JSON through one handler table (ERROR_STATUS)."""

from __future__ import annotations

import asyncio
import difflib
import logging
import time
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any, Mapping

from fastapi import FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi_offline import FastAPIOffline
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from mood_tagger import __version__
from mood_tagger.backends import Backend, create_backend
from mood_tagger.data.inputs import make_exchange
from mood_tagger.errors import BackendError, InputError, ModelError, MoodTaggerError
from mood_tagger.serving import chat_format, chat_output, chat_params, readiness
from mood_tagger.serving.access_log import RequestIdMiddleware, configure_logging, log_tag, request_id
from mood_tagger.serving.admission import Admission, fallback_tag
from mood_tagger.serving.metrics import ServiceMetrics
from mood_tagger.serving.middleware import (AbuseGuardMiddleware, GuardMiddleware,
                                           MetricsMiddleware, error_payload)
from mood_tagger.serving.streaming import stream_response
from mood_tagger.serving.schemas import (BatchRequest, BatchResponse, ChatRequest, ErrorResponse,
                                         TagRequest, TagResponse, TurnIn)
from mood_tagger.settings import Settings

log = logging.getLogger("mood_tagger.serving")

# exception class → (HTTP status, OpenAI-style error type)
ERROR_STATUS: dict[type, tuple[int, str]] = {
    InputError: (400, "invalid_request_error"),
    BackendError: (502, "backend_error"),
    ModelError: (503, "model_unavailable"),
    MoodTaggerError: (500, "internal_error"),
}
BATCH_CHUNK = 16     # batch items tagged at once (issue 8: a batch must not stall others)
KNOWN_FIELDS = sorted({*TagRequest.model_fields, *TurnIn.model_fields, *BatchRequest.model_fields})
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (400, 401, 413, 415, 422)}


def _error(status: int, message: str, kind: str, param: str | None = None,
           headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_payload(status, message, kind, param), status_code=status,
                        headers=headers)


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    first = exc.errors()[0]
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    field = ".".join(loc) or None
    if first.get("type") == "json_invalid":
        return ("the body is not valid JSON; send a JSON object, e.g. "
                '{"user_last_message": "...", "pika_response": "..."}', None)
    hint = ""
    if first.get("type") == "extra_forbidden" and loc:
        close = difflib.get_close_matches(loc[-1], KNOWN_FIELDS, n=1, cutoff=0.6)
        return (f"{field}: unknown field" + (f"; did you mean {close[0]!r}?" if close else
                f"; known fields are {', '.join(sorted(KNOWN_FIELDS))}"), field)
    if first.get("type") in ("missing", "string_too_short"):
        hint = "; see /docs for the request schema"
    return f"{field or 'body'}: {first.get('msg', 'invalid value')}{hint}", field


def _turns(history) -> list[dict] | None:
    return [t.model_dump() for t in history] if history is not None else None


def create_app(settings: Settings | None = None, backend: Backend | None = None) -> FastAPI:
    settings = settings or Settings()
    metrics = ServiceMetrics()
    admission = Admission(settings.max_concurrency, settings.max_queue, settings.overload_503,
                          metrics.registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.backend = backend or create_backend(settings.backend, settings)
        app.state.ready = True
        yield
        app.state.ready = False
        await app.state.backend.aclose()
        app.state.backend.close()

    # FastAPIOffline: /docs serves Swagger UI from the installed package, no CDN (works offline)
    app = FastAPIOffline(title="mood-tagger", version=__version__, lifespan=lifespan,
                  description="Emotion and celebrate tags for Pika's replies (LABELS.md), with an "
                              "OpenAI-compatible drop-in at /v1/chat/completions.")
    app.state.ready = False
    app.state.settings = settings
    app.state.metrics = metrics

    def exchange_of(user, pika, history, where: str = ""):
        try:
            return make_exchange(user, pika, history)
        except InputError as exc:
            raise InputError(f"{where}{exc}") from exc

    async def tag_one(request: Request, ex, deadline_ms) -> dict:
        """Tag within the deadline counted from the request's acceptance (admission.py):
        the fallback tag at once when it can no longer be met; latency_ms since acceptance."""
        deadline = deadline_ms or settings.default_deadline_ms
        arrived = request.scope.get("state", {}).get("arrived") or time.perf_counter()
        left = deadline - (time.perf_counter() - arrived) * 1000
        result = None
        if left <= 0:
            admission.refuse("deadline_passed")
            result = fallback_tag(app.state.backend, ex, "deadline_passed", arrived)
        else:
            async with admission.slot(left) as admitted:
                if admitted:
                    left = deadline - (time.perf_counter() - arrived) * 1000
                    result = await app.state.backend.atag(ex, max(0.0, left))
                    result = replace(result, latency_ms=(time.perf_counter() - arrived) * 1000)
            if result is None:
                admission.refuse("overloaded")
                result = fallback_tag(app.state.backend, ex, "overloaded", arrived)
        metrics.tags.labels(result.backend, result.reason).inc()
        if settings.log_requests:
            log_tag(log, request_id(request.scope), ex, result)
        return result.to_dict()

    # ----- errors: one table -------------------------------------------------
    @app.exception_handler(MoodTaggerError)
    async def on_domain_error(request: Request, exc: MoodTaggerError):
        status, kind = next(v for cls, v in ERROR_STATUS.items() if isinstance(exc, cls))
        metrics.errors.labels(getattr(exc, "kind", kind)).inc()
        return _error(status, str(exc), kind, getattr(exc, "param", None),
                      headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError):
        message, field = _validation_message(exc)
        status = 400 if field is None else 422
        metrics.errors.labels("invalid_json" if status == 400 else "validation").inc()
        return _error(status, message, "invalid_request_error", field)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException):
        metrics.errors.labels(f"http_{exc.status_code}").inc()
        message = {400: "the body could not be parsed; send UTF-8 encoded JSON",
                   404: f"no route {request.url.path!r}; see /docs for the API",
                   405: f"method {request.method} is not allowed on {request.url.path}"
                   }.get(exc.status_code, str(exc.detail))
        return _error(exc.status_code, message, "invalid_request_error", headers=exc.headers)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception):
        log.exception("unexpected error on %s", request.url.path)
        metrics.errors.labels("internal").inc()
        return _error(500, "internal error; the service keeps serving", "internal_error")

    # ----- routes ------------------------------------------------------------
    @app.post("/v1/tag", response_model=TagResponse, responses=ERROR_RESPONSES)
    async def tag(req: TagRequest, request: Request) -> dict:
        """Tag one exchange."""
        ex = exchange_of(req.user_last_message, req.pika_response, _turns(req.history))
        return await tag_one(request, ex, req.deadline_ms)

    @app.post("/v1/tag/batch", response_model=BatchResponse, responses=ERROR_RESPONSES)
    async def tag_batch(req: BatchRequest, request: Request) -> dict:
        """Tag up to 256 exchanges; results come back in the same order."""
        # every item is validated before any is tagged; errors name the item
        exchanges = [exchange_of(r.user_last_message, r.pika_response, _turns(r.history),
                                 f"items[{i}].") for i, r in enumerate(req.items)]
        results: list[dict] = []
        for i in range(0, len(exchanges), BATCH_CHUNK):   # a chunk at a time: others get turns
            results += await asyncio.gather(*(tag_one(request, ex, r.deadline_ms) for ex, r in zip(
                exchanges[i:i + BATCH_CHUNK], req.items[i:i + BATCH_CHUNK])))
            await asyncio.sleep(0)
        return {"results": results}

    @app.post("/v1/chat/completions", responses=ERROR_RESPONSES)
    async def chat_completions(req: ChatRequest, request: Request,
                               x_deadline_ms: float | None = Header(default=None, gt=0,
                                                                    le=60_000)) -> dict:
        """OpenAI-compatible drop-in for the original plan's client: the last user message
        holds the `[CONTEXT]` block; the answer's content is the JSON tag string. Every option
        is honoured or refused by name (chat_params.py); `"stream": true` answers with SSE."""
        options = chat_params.parse_options(req.model_dump(exclude={"messages"}))
        users = [m for m in req.messages if m.role == "user"]
        if not users:
            raise InputError("messages: no user message; expected a user message with "
                             f"{chat_format.EXPECTED_FORMAT}", param="messages")
        content = chat_format.message_text(users[-1].content)
        user, pika, history = chat_format.parse_context(content)
        result = await tag_one(request, exchange_of(user, pika, history), x_deadline_ms)
        prompt_tokens = sum(len(chat_format.message_text(m.content)) for m in req.messages) // 4
        completion = chat_output.Completion(
            req.model, chat_output.generate(result, options), options, prompt_tokens,
            {k: result[k] for k in ("backend", "reason", "model", "latency_ms", "celebrate_p")})
        if options.stream:
            return stream_response(completion)  # type: ignore[return-value]
        return completion.response()

    @app.get("/v1/models")
    async def models() -> dict:
        """The model this service answers with (any model name is accepted in requests)."""
        return {"object": "list", "data": [{"id": app.state.backend.model_name, "object": "model",
                                             "created": 0, "owned_by": "mood-tagger"}]}

    @app.get("/healthz")
    async def healthz():
        """200 once the model is loaded, 503 before."""
        if not app.state.ready:
            return _error(503, "model not loaded yet", "model_unavailable")
        return {"status": "ok", "backend": settings.backend,
                "model": app.state.backend.model_name, "version": __version__}

    @app.get("/readyz")
    async def readyz():
        """Readiness: 200 "ready", or 200 "degraded" naming the tier that is down (the service
        still answers); 503 before the models are loaded."""
        if not app.state.ready:
            return _error(503, "model not loaded yet", "model_unavailable")
        return {**await readiness.readiness(app.state.backend), "version": __version__}

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics():
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    app.add_middleware(GuardMiddleware, api_key=settings.api_key,
                       max_body_bytes=settings.max_body_bytes, metrics=metrics)
    app.add_middleware(AbuseGuardMiddleware, hosts=settings.allowed_hosts,
                       max_header_bytes=settings.max_header_bytes, metrics=metrics)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(RequestIdMiddleware)   # outermost: every answer has an x-request-id
    return app


def create_app_from_env() -> FastAPI:
    """uvicorn factory for `--workers N`: settings come from MOOD_TAGGER_* variables."""
    settings = Settings()
    configure_logging(access=settings.json_access_log)
    return create_app(settings)
