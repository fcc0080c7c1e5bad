"""One backend for every OpenAI-compatible server: vLLM, TensorRT-LLM, SGLang, llama.cpp, Ollama.

Only the way the output is forced differs between servers; `output_constraint` holds that
table. Every reply is validated (mood_tagger.backends.prompt), and failures are translated in
one place (`_upstream_errors`) into the BackendError tree of mood_tagger.errors.

How each dialect forces the answer (docs checked for each). One-token mode always answers with
one code letter A-Z for one of the 26 labels <emotion>|<celebrate>, with `max_tokens: 1`:

  dialect   json mode                                one-token mode
  vllm      structured_outputs.json  (vLLM ≥ 0.10.2; the guided_* fields were removed in 0.12)
                                                     structured_outputs.choice ["A" … "Z"]
            https://docs.vllm.ai/en/latest/features/structured_outputs/
  trtllm    response_format json_schema              response_format {"type": "regex",
                                                                     "regex": "[A-Z]"}
            https://nvidia.github.io/TensorRT-LLM/features/guided-decoding.html
            (trtllm-serve rejects unknown request fields, so nothing vLLM-specific is sent)
  sglang    response_format json_schema              top-level "regex": "[A-Z]"
            https://docs.sglang.io/advanced_features/structured_outputs.html
  llamacpp  response_format json_schema              "grammar": "root ::= [A-Z]" (GBNF; the chat
            https://github.com/ggml-org/llama.cpp/blob/master/tools/server/README.md
                                                     endpoint takes /completion's options)
  ollama    response_format json_schema              no regex or grammar in its OpenAI API, and a
            https://docs.ollama.com/api/openai-compatibility   JSON string enum costs 3 tokens
                                                     ('"', letter, '"'): top_logprobs 20 of one
                                                     unforced token (Ollama ≥ 0.12.11,
            https://github.com/ollama/ollama/releases/tag/v0.12.11; an older server drops the
            fields, and the reply without top_logprobs is UpstreamInvalidOutput)
  openai    response_format json_schema (strict)     top_logprobs 20 of one unforced token
            https://platform.openai.com/docs/api-reference/chat

Timing: both paths run the HTTP request on a private event loop in one daemon thread (one
keep-alive pool, never bound to a caller's loop). The caller waits at most the budget
(min(timeout, deadline)) in total, with Future.result(timeout) (sync) or one asyncio.wait_for
on a shielded future (async), and then stops waiting: it never cancels the request.

Why never cancel (issue 8): cancelling an httpx request while httpcore's pool is assigning
it a connection, or while a connection is being set up, leaves the pool with connections it
believes busy or connecting; after a burst of late requests every later request waited in
the pool until its deadline (reason llm_timeout), for good, with a thread spinning in
`_assign_requests_to_connections`. So the request on the private loop ends on its own:
httpx's per-phase timeouts (pool, connect, write, each read) are the budget, and the body
loop gives up with an exception (not a cancellation) once the total budget is spent, so a
trickling server cannot hold a connection for more than about two budgets. At most
`max_in_flight` requests run at once (the pool size); a call beyond that gets
UpstreamBusy at once instead of queueing behind late requests.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
import time
import weakref
from contextlib import contextmanager

import httpx

from mood_tagger.backends import prompt
from mood_tagger.backends.base import Backend, TagResult, register
from mood_tagger.data.schema import Exchange
from mood_tagger.errors import (BackendError, InputError, UpstreamBusy, UpstreamHTTPError,
                                UpstreamInvalidOutput, UpstreamTimeout)

DIALECTS = ("vllm", "trtllm", "sglang", "llamacpp", "ollama", "openai")
MODES = ("json", "one-token")
MAX_BODY_BYTES = 256 * 1024         # a reply of ~15 tokens never needs more
MAX_IN_FLIGHT = 64                  # requests on the private loop at once = the pool size
_LIMITS = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=32,
                       keepalive_expiry=30.0)
_TOP_LOGPROBS = {"logprobs": True, "top_logprobs": 20}


def output_constraint(dialect: str, mode: str) -> tuple[dict, str, int]:
    """(request fields forcing the output, answer shape of prompt and reply, max_tokens)."""
    if mode == "json":
        if dialect == "vllm":
            return {"structured_outputs": {"json": prompt.EMOTION_SCHEMA}}, "json", 32
        return {"response_format": {"type": "json_schema", "json_schema": {
            "name": "mood_tag", "strict": True, "schema": prompt.EMOTION_SCHEMA}}}, "json", 32
    one_token: dict[str, dict] = {
        "vllm": {"structured_outputs": {"choice": list(prompt.CODES)}},
        "trtllm": {"response_format": {"type": "regex", "regex": prompt.CODE_REGEX}},
        "sglang": {"regex": prompt.CODE_REGEX},
        "llamacpp": {"grammar": prompt.CODE_GRAMMAR}}
    return one_token.get(dialect, _TOP_LOGPROBS), "code", 1


@contextmanager
def _upstream_errors(url: str, timeout_ms: float):
    """The one place where request failures become mood-tagger errors (raise … from exc)."""
    try:
        yield
    except (httpx.TimeoutException, TimeoutError) as exc:   # TimeoutError: the total budget
        raise UpstreamTimeout(f"{url}: no answer within {timeout_ms:.0f} ms; raise --llm-timeout-ms "
                              "(or the deadline) or check the LLM server's load") from exc
    except httpx.HTTPStatusError as exc:
        body = exc.response.text[:200]     # read before raising
        raise UpstreamHTTPError(f"{url}: HTTP {exc.response.status_code} {body!r}; check "
                                "--llm-model, --llm-api-key and the server log") from exc
    except httpx.TransportError as exc:
        raise UpstreamHTTPError(f"{url}: {type(exc).__name__} ({exc}); is the LLM server running "
                                "at --llm-base-url?") from exc
    except httpx.HTTPError as exc:         # DecodingError, TooManyRedirects, …
        raise UpstreamHTTPError(f"{url}: {type(exc).__name__} ({exc}); the server's reply is not "
                                "valid HTTP, is --llm-base-url an OpenAI-compatible server?") from exc
    except concurrent.futures.CancelledError as exc:
        raise UpstreamHTTPError(f"{url}: the backend was closed while the request was in "
                                "flight") from exc
    except RuntimeError as exc:            # submitted while close() stopped the private loop
        raise UpstreamHTTPError(f"{url}: the backend is closing ({exc})") from exc
    except UnicodeEncodeError as exc:      # e.g. a lone surrogate "\ud800" in a text
        raise BackendError(f"{url}: the exchange cannot be sent as UTF-8 ({exc.reason} at "
                           f"position {exc.start}); remove lone surrogates from the texts") from exc


class _Worker:
    """A private event loop in a daemon thread, owning one AsyncClient (the keep-alive pool)."""

    def __init__(self, client: httpx.AsyncClient):
        self.client = client
        self.loop = asyncio.new_event_loop()
        self._stopping = False
        self.in_flight = 0                  # requests submitted and not finished (any thread)
        self._count = threading.Lock()
        self.thread = threading.Thread(target=self._run, name="mood-tagger-llm", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
            self.loop.run_until_complete(self._shutdown())
        finally:
            self.loop.close()

    async def _shutdown(self) -> None:
        """Cancel the requests still in flight, then close every connection."""
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.client.aclose()

    def submit(self, coro, limit: int) -> concurrent.futures.Future | None:
        """Run `coro` on the private loop; None (coro closed) when `limit` already run."""
        with self._count:
            if self.in_flight >= limit:
                coro.close()
                return None
            self.in_flight += 1
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        future.add_done_callback(self._finished)
        return future

    def _finished(self, future: concurrent.futures.Future) -> None:
        with self._count:
            self.in_flight -= 1

    def stop(self, wait: bool = True) -> None:
        if self._stopping:
            return
        self._stopping = True
        try:
            self.loop.call_soon_threadsafe(self.loop.stop)
        except RuntimeError:               # already closed
            return
        if wait and threading.current_thread() is not self.thread:
            self.thread.join(timeout=5)


def _retrieve(future: asyncio.Future) -> None:
    """Mark a late request's outcome as seen (no "exception was never retrieved" log)."""
    if not future.cancelled():
        future.exception()


@register("openai")
class OpenAICompatBackend(Backend):
    capabilities = frozenset({"remote"})

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None,
                 dialect: str = "vllm", mode: str = "json", timeout_ms: float = 1000.0):
        if dialect not in DIALECTS:
            raise InputError(f"LLM dialect {dialect!r}; expected one of {list(DIALECTS)} "
                             "(--llm-dialect or MOOD_TAGGER_LLM_DIALECT)")
        if mode not in MODES:
            raise InputError(f"LLM mode {mode!r}; expected one of {list(MODES)} "
                             "(--llm-mode or MOOD_TAGGER_LLM_MODE)")
        self.url = base_url.rstrip("/") + "/chat/completions"
        try:
            scheme = httpx.URL(self.url).scheme
        except httpx.InvalidURL as exc:
            raise InputError(f"LLM base URL {base_url!r}: {exc}; expected e.g. "
                             "http://127.0.0.1:8000/v1 (--llm-base-url)") from exc
        if scheme not in ("http", "https"):
            raise InputError(f"LLM base URL {base_url!r}: expected an http:// or https:// URL "
                             "such as http://127.0.0.1:8000/v1 (--llm-base-url)")
        self.model, self.dialect, self.mode, self.timeout_ms = model, dialect, mode, timeout_ms
        self.headers = {"Content-Type": "application/json"}
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"
        self.constraint, self.reply_kind, self.max_tokens = output_constraint(dialect, mode)
        self.reads_logprobs = "top_logprobs" in self.constraint
        self.system_prompt = prompt.system_prompt(self.reply_kind)
        # Built once here: creating an SSL context costs ~20 ms, more than a whole deadline.
        self._ssl = httpx.create_ssl_context()
        self._lock = threading.Lock()
        self._worker_: _Worker | None = None
        self._finalizer: weakref.finalize | None = None

    @classmethod
    def from_settings(cls, settings) -> "OpenAICompatBackend":
        return cls(settings.llm_base_url, settings.llm_model, api_key=settings.llm_api_key,
                   dialect=settings.llm_dialect, mode=settings.llm_mode,
                   timeout_ms=settings.llm_timeout_ms)

    @property
    def model_name(self) -> str:
        return self.model

    # ----- request and reply ------------------------------------------------------------------
    def request_body(self, exchange: Exchange) -> dict:
        return {"model": self.model,
                "messages": [{"role": "system", "content": self.system_prompt},
                             {"role": "user", "content": prompt.build_user_content(exchange)}],
                "temperature": 0, "max_tokens": self.max_tokens, "stream": False,
                **self.constraint}

    def _budget_ms(self, deadline_ms: float | None) -> float:
        budget = self.timeout_ms if deadline_ms is None else min(self.timeout_ms, deadline_ms)
        if budget <= 0:
            raise UpstreamTimeout(f"{self.url}: no time left for the LLM (deadline {deadline_ms} ms)")
        return budget

    def _result(self, raw: bytes, start: float) -> TagResult:
        try:
            choice = json.loads(raw)["choices"][0]
            content = choice["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise UpstreamInvalidOutput(f"{self.url}: not an OpenAI chat completion "
                                        f"({raw[:120]!r}); is --llm-base-url the /v1 root?") from exc
        celebrate_p = None
        if self.reads_logprobs:
            try:
                top = choice["logprobs"]["content"][0]["top_logprobs"]
            except (KeyError, IndexError, TypeError) as exc:
                raise UpstreamInvalidOutput(f"{self.url}: no top_logprobs in the reply; use "
                                            "--llm-mode json with this server") from exc
            emotion_top, celebrate_p = prompt.parse_code_logprobs(top)
            emotion, celebrate = emotion_top[0][0], "yes" if celebrate_p >= 0.5 else "no"
        else:
            parse = prompt.parse_json_reply if self.reply_kind == "json" else prompt.parse_code_reply
            emotion, celebrate = parse(content)
            emotion_top = [(emotion, 1.0)]
        return TagResult(emotion_name=emotion, celebrate=celebrate, emotion_top=emotion_top,
                         celebrate_p=celebrate_p, model=self.model, backend="openai", reason="llm",
                         latency_ms=(time.perf_counter() - start) * 1000)

    async def _post(self, client: httpx.AsyncClient, content: bytes, budget_ms: float) -> bytes:
        """The request itself, on the private loop. Never cancelled by a caller who gave up:
        it ends by httpx's per-phase timeouts or by the total budget, checked per chunk."""
        give_up = time.monotonic() + budget_ms / 1000
        async with client.stream("POST", self.url, content=content,
                                 timeout=budget_ms / 1000) as response:
            if not response.is_success:
                await response.aread()
                response.raise_for_status()
            raw = bytearray()
            async for chunk in response.aiter_bytes():
                raw += chunk
                if len(raw) > MAX_BODY_BYTES:
                    raise UpstreamInvalidOutput(f"{self.url}: reply larger than {MAX_BODY_BYTES} bytes")
                if time.monotonic() > give_up:
                    raise UpstreamTimeout(f"{self.url}: the reply trickled in for more than "
                                          f"{budget_ms:.0f} ms; the connection is dropped")
        return bytes(raw)

    def _submit(self, exchange: Exchange, budget_ms: float) -> concurrent.futures.Future:
        content = json.dumps(self.request_body(exchange), ensure_ascii=False).encode("utf-8")
        worker = self._worker()
        future = worker.submit(self._post(worker.client, content, budget_ms), MAX_IN_FLIGHT)
        if future is None:
            raise UpstreamBusy(f"{self.url}: {MAX_IN_FLIGHT} LLM requests already in flight; "
                               "answering without the LLM (is the LLM server overloaded?)")
        return future

    # ----- the two entry points ---------------------------------------------------------------
    def tag(self, exchange: Exchange, deadline_ms: float | None = None) -> TagResult:
        start = time.perf_counter()
        budget_ms = self._budget_ms(deadline_ms)
        with _upstream_errors(self.url, budget_ms):
            future = self._submit(exchange, budget_ms)
            # on timeout the request is left to end by itself (module docstring: never cancel)
            raw = future.result(timeout=max(0.0, budget_ms / 1000 - (time.perf_counter() - start)))
        return self._result(raw, start)

    async def atag(self, exchange: Exchange, deadline_ms: float | None = None) -> TagResult:
        start = time.perf_counter()
        budget_ms = self._budget_ms(deadline_ms)
        with _upstream_errors(self.url, budget_ms):
            future = asyncio.wrap_future(self._submit(exchange, budget_ms))
            future.add_done_callback(_retrieve)
            try:
                # shield: neither our timeout nor our caller's cancellation reaches the request
                raw = await asyncio.wait_for(asyncio.shield(future),
                                             budget_ms / 1000 - (time.perf_counter() - start))
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise                  # our caller cancelled us: let it
                raise UpstreamHTTPError(f"{self.url}: the backend was closed while the request "
                                        "was in flight") from None
        return self._result(raw, start)

    # ----- connections ------------------------------------------------------------------------
    def _worker(self) -> _Worker:
        with self._lock:
            if self._worker_ is None:
                client = httpx.AsyncClient(headers=self.headers, limits=_LIMITS, verify=self._ssl)
                self._worker_ = _Worker(client)
                # a backend dropped without close() still stops its thread and closes its pool
                self._finalizer = weakref.finalize(self, self._worker_.stop, False)
                self._finalizer.atexit = False
            return self._worker_

    def close(self) -> None:
        """Cancel requests in flight and close the connections; the next call opens new ones."""
        with self._lock:
            worker, self._worker_ = self._worker_, None
            if self._finalizer is not None:
                self._finalizer.detach()
                self._finalizer = None
        if worker is not None:
            worker.stop()

    async def aclose(self) -> None:
        """The same as close(), awaited without blocking the caller's event loop."""
        await asyncio.to_thread(self.close)
