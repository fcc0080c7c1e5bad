"""mood_tagger.client against real servers: answers, timeouts, fallback, refusals."""

from __future__ import annotations

import asyncio
import socket

import pytest

from mood_tagger.client import AsyncTaggerClient, ServiceUnavailable, TaggerClient
from mood_tagger.errors import InputError
from mood_tagger.labels import EMOTION_TAGS
from mood_tagger.serving.app import create_app
from mood_tagger.serving.server import ThreadedServer
from mood_tagger.settings import Settings
from tests.service_helpers import SlowBackend, shipped_backend

FALLBACK = {"emotion_name": "calm", "celebrate": "no"}


@pytest.fixture(scope="module")
def fast_server():
    with ThreadedServer(create_app(Settings(), backend=shipped_backend())) as srv:
        yield srv


@pytest.fixture(scope="module")
def slow_server():
    with ThreadedServer(create_app(Settings(), backend=SlowBackend(0.5))) as srv:
        yield srv


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_sync_client_tags_and_reuses_its_connection(fast_server):
    with TaggerClient(fast_server.url, timeout_ms=2000) as client:
        first = client.tag("Con voi ăn cỏ ạ", "Đúng rồi, con giỏi lắm!",
                           history=[{"role": "pika", "text": "Con voi ăn gì?"}])
        second = client.tag("Tớ thích màu xanh", "Màu xanh đẹp thật!")
        assert first["emotion_name"] in EMOTION_TAGS and second["celebrate"] == "no"
        assert client._http._transport._pool.connections.__len__() == 1


def test_sync_client_fallback_on_slow_and_down(slow_server):
    with TaggerClient(slow_server.url, timeout_ms=50, fallback=FALLBACK) as client:
        result = client.tag("a", "b")
    assert result == FALLBACK | {"fallback": True, "reason": "ReadTimeout"}
    with TaggerClient(_closed_port_url(), timeout_ms=50, fallback=FALLBACK) as down:
        assert down.tag("a", "b")["reason"] == "ConnectError"
    with TaggerClient(slow_server.url, timeout_ms=50) as strict:
        with pytest.raises(ServiceUnavailable, match="pass fallback"):
            strict.tag("a", "b")


def test_client_raises_on_refused_request(fast_server):
    with TaggerClient(fast_server.url, timeout_ms=2000, fallback=FALLBACK) as client:
        with pytest.raises(InputError, match="422"):
            client.tag("", "b")


def test_async_client_and_per_call_timeout(fast_server, slow_server):
    async def scenario():
        async with AsyncTaggerClient(fast_server.url, timeout_ms=2000) as client:
            results = await asyncio.gather(*(client.tag(f"{i} + 1 = {i + 1}", "Đúng rồi!")
                                             for i in range(10)))
            assert all(r["emotion_name"] in EMOTION_TAGS for r in results)
        async with AsyncTaggerClient(slow_server.url, timeout_ms=5000, fallback=FALLBACK) as slow:
            quick = await slow.tag("a", "b", timeout_ms=30)
            assert quick["fallback"] is True
            patient = await slow.tag("a", "b")
            assert patient["backend"] == "slow"
    asyncio.run(scenario())


class TricklingServer:
    """Answers /v1/tag with its headers after 40 ms and its body after 120 ms: every httpx
    phase stays under a 50 ms per-phase timeout, the whole call does not."""

    def __init__(self):
        import threading

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        import time

        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                body = b'{"emotion_name": "calm", "celebrate": "no"}'
                try:
                    conn.recv(65536)
                    time.sleep(0.04)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: %d\r\n\r\n" % len(body))
                    time.sleep(0.04)
                    conn.sendall(body[:10])
                    time.sleep(0.04)
                    conn.sendall(body[10:])
                except OSError:  # the client gave up first: that is the point
                    pass

    def close(self):
        self.sock.close()


def test_timeout_is_a_total_budget_sync_and_async():
    import time

    server = TricklingServer()
    try:
        with TaggerClient(server.url, timeout_ms=50, fallback=FALLBACK) as client:
            start = time.perf_counter()
            result = client.tag("a", "b")
            elapsed_ms = (time.perf_counter() - start) * 1000
        assert result["fallback"] is True and elapsed_ms < 50 + 40

        async def scenario():
            async with AsyncTaggerClient(server.url, timeout_ms=50, fallback=FALLBACK) as client:
                start = time.perf_counter()
                result = await client.tag("a", "b")
                return result, (time.perf_counter() - start) * 1000
        result, elapsed_ms = asyncio.run(scenario())
        assert result["fallback"] is True and elapsed_ms < 50 + 40
    finally:
        server.close()


def test_many_threads_share_one_client_and_close_does_not_block(fast_server, slow_server):
    import threading
    import time

    with TaggerClient(fast_server.url, timeout_ms=3000) as client:
        results = []
        threads = [threading.Thread(target=lambda i=i: results.append(
            client.tag(f"{i} + 1 = {i + 1}", "Đúng rồi!"))) for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(results) == 12 and all(r["emotion_name"] in EMOTION_TAGS for r in results)
    slow = TaggerClient(slow_server.url, timeout_ms=5000, fallback=FALLBACK)
    pending = threading.Thread(target=slow.tag, args=("a", "b"))
    pending.start()
    time.sleep(0.05)
    start = time.perf_counter()
    slow.close()
    assert time.perf_counter() - start < 0.4  # the slow backend takes 0.5 s per request
    assert slow.tag("a", "b")["fallback"] is True  # after close: fallback, not a crash
    pending.join()


def test_client_sends_its_budget_as_the_server_deadline(fast_server):
    from mood_tagger.client import _Base

    body = _Base._body("a", "b", None, None, budget_s=0.040)
    assert body["deadline_ms"] == 35.0
    assert _Base._body("a", "b", None, 20.0, budget_s=0.040)["deadline_ms"] == 20.0
