"""Issue 8: at SIGTERM, requests in flight complete (here with their fallback tag), none a 500.
The real `mood-tagger serve` process, a real upstream that hangs, a real signal."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from mood_tagger.serving.server import wait_until_healthy

BODY = {"user_last_message": "2 cộng 3 bằng 5", "pika_response": "Chính xác! Tiếp câu sau nhé."}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_lets_in_flight_requests_finish_with_their_fallback(fake):
    fake.reset()
    fake.behaviour = "hang"
    port = _free_port()
    env = os.environ | {"MOOD_TAGGER_GRACEFUL_SHUTDOWN_S": "30"}
    proc = subprocess.Popen([sys.executable, "-m", "mood_tagger.cli", "serve", "--port", str(port),
                             "--backend", "cascade", "--cascade-threshold", "1",
                             "--llm-base-url", fake.url, "--llm-timeout-ms", "20000"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url)
        results: list[tuple[int, str]] = []

        def client():   # 6 s in flight: longer than uvicorn's old 5 s graceful limit
            r = httpx.post(url + "/v1/tag", json=BODY | {"deadline_ms": 6000}, timeout=60)
            results.append((r.status_code, r.json().get("reason")))

        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        while fake.max_in_flight < 4:   # all four are waiting on the hung upstream
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        for t in threads:
            t.join()
        assert results == [(200, "llm_timeout")] * 4
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM)   # uvicorn re-raises the signal
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        fake.reset()
