"""Python client for the mood-tagger service, sync and async (httpx, connections reused).

With `fallback` set (e.g. {"emotion_name": "calm", "celebrate": "no"}), a slow or
unreachable service returns the fallback (marked "fallback": true) instead of raising,
so a robot never waits past its budget.

    client = TaggerClient("http://127.0.0.1:7862", timeout_ms=40,
                          fallback={"emotion_name": "calm", "celebrate": "no"})
    client.tag("2 + 2 bằng 4", "Đúng rồi!")
"""

from __future__ import annotations

import asyncio
import concurrent.futures

import httpx

from mood_tagger.errors import BackendError, InputError

DEADLINE_MARGIN_MS = 5.0  # the server is asked to answer this much before the client gives up


class ServiceUnavailable(BackendError):
    kind = "service_unavailable"


def _payload(user: str, pika: str, history: list | None, deadline_ms: float | None) -> dict:
    body: dict = {"user_last_message": user, "pika_response": pika}
    if history is not None:
        body["history"] = history
    if deadline_ms is not None:
        body["deadline_ms"] = deadline_ms
    return body


class _Base:
    def __init__(self, base_url: str = "http://127.0.0.1:7862", *, timeout_ms: float = 50.0,
                 api_key: str | None = None, fallback: dict | None = None):
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_ms / 1000
        self.timeout = httpx.Timeout(self.timeout_s)
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.fallback = fallback

    def _budget(self, timeout_ms: float | None) -> float:
        if timeout_ms is not None:
            return timeout_ms / 1000
        return self.timeout_s

    @staticmethod
    def _body(user, pika, history, deadline_ms, budget_s: float) -> dict:
        """The request; without a deadline of its own, the server gets the client's budget
        minus a margin, so its answer (e.g. the cascade's fallback) arrives in time."""
        if deadline_ms is None:
            deadline_ms = max(1.0, budget_s * 1000 - DEADLINE_MARGIN_MS)
        return _payload(user, pika, history, deadline_ms)

    def _handle(self, response: httpx.Response | None, error: Exception | None) -> dict:
        if error is None and response is not None and response.status_code < 500:
            if response.status_code >= 400:
                try:
                    detail = response.json()["error"]["message"]
                except (ValueError, KeyError, TypeError):
                    detail = response.text[:200]
                raise InputError(f"the service refused the request ({response.status_code}): {detail}")
            try:
                return response.json()
            except ValueError as exc:
                error = exc  # a 2xx that is not JSON: the service is broken, not the request
        reason = type(error).__name__ if error is not None or response is None \
            else f"http_{response.status_code}"
        if self.fallback is None:
            raise ServiceUnavailable(f"mood-tagger service at {self.base_url} failed ({reason}); "
                                     "pass fallback=... to get a default answer instead") from error
        return dict(self.fallback, fallback=True, reason=reason)


class TaggerClient(_Base):
    """Blocking client, safe to share between threads. The timeout is a total budget for the
    call (httpx's own timeouts count each phase separately), enforced by waiting on a worker
    thread; `max_concurrency` calls can be in flight at once."""

    def __init__(self, *args, max_concurrency: int = 32, **kwargs):
        super().__init__(*args, **kwargs)
        self._http = httpx.Client(base_url=self.base_url, headers=self.headers, timeout=self.timeout,
                                  limits=httpx.Limits(max_connections=max_concurrency))
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=max_concurrency,
                                                           thread_name_prefix="mood-tagger-client")

    def tag(self, user: str, pika: str, history: list | None = None, *,
            deadline_ms: float | None = None, timeout_ms: float | None = None) -> dict:
        budget = self._budget(timeout_ms)
        try:
            future = self._pool.submit(self._http.post, "/v1/tag",
                                       json=self._body(user, pika, history, deadline_ms, budget),
                                       timeout=httpx.Timeout(budget))
        except RuntimeError as exc:  # submitted after close()
            return self._handle(None, exc)
        try:
            response = future.result(timeout=budget)
        except concurrent.futures.TimeoutError:
            future.cancel()  # drops it if it never started; a running request ends on its timeout
            return self._handle(None, httpx.ReadTimeout("total budget exceeded"))
        except (httpx.HTTPError, RuntimeError) as exc:
            return self._handle(None, exc)
        return self._handle(response, None)

    def close(self) -> None:
        """Returns at once: queued calls are cancelled, running ones end on their timeout."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class AsyncTaggerClient(_Base):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=self.headers,
                                       timeout=self.timeout)

    async def tag(self, user: str, pika: str, history: list | None = None, *,
                  deadline_ms: float | None = None, timeout_ms: float | None = None) -> dict:
        budget = self._budget(timeout_ms)
        try:
            response = await asyncio.wait_for(
                self._http.post("/v1/tag", json=self._body(user, pika, history, deadline_ms, budget),
                                timeout=httpx.Timeout(budget)), timeout=budget)
        except asyncio.TimeoutError:
            return self._handle(None, httpx.ReadTimeout("total budget exceeded"))
        except httpx.HTTPError as exc:
            return self._handle(None, exc)
        return self._handle(response, None)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.aclose()
