"""Issue 8, the LLM tier: a real server in front of a real upstream that misbehaves on purpose.

Each misbehaviour gets a valid tag from the classifier with its reason, and afterwards the LLM
tier answers again. The lock-up regression: a burst of requests that all give up on the LLM
used to leave httpcore's pool wedged, so every later call ended in llm_timeout for good.
No timing assertions: outcomes (status, reason, valid tags) only.
"""

from __future__ import annotations

import threading

import httpx
import pytest

from mood_tagger.backends import create_backend
from mood_tagger.labels import EMOTION_TAGS as EMOTIONS
from mood_tagger.serving.app import create_app
from mood_tagger.serving.server import ThreadedServer
from mood_tagger.settings import Settings

BODY = {"user_last_message": "2 cộng 3 bằng 5", "pika_response": "Chính xác! Tiếp câu sau nhé."}
GENEROUS_MS = 5000      # a healthy loopback upstream answers well within this on a loaded CI box


@pytest.fixture(scope="module")
def service(fake, tiny_model_path):
    settings = Settings(model=tiny_model_path, backend="cascade", llm_base_url=fake.url,
                        llm_model="teacher", cascade_threshold=1.0, llm_timeout_ms=GENEROUS_MS)
    app = create_app(settings, backend=create_backend("cascade", settings))
    with ThreadedServer(app) as srv, httpx.Client(base_url=srv.url, timeout=30) as http:
        yield srv, http


def answers_with_llm(http) -> dict:
    r = http.post("/v1/tag", json=BODY | {"deadline_ms": GENEROUS_MS})
    assert r.status_code == 200
    return r.json()


def llm_answers_again(http, attempts: int = 50) -> bool:
    """Released requests of the previous burst may still hold the in-flight slots for a moment
    (llm_busy): retry a bounded number of times until the LLM tier answers."""
    for _ in range(attempts):
        if answers_with_llm(http)["reason"] == "llm":
            return True
        threading.Event().wait(0.2)
    return False


def test_llm_tier_answers_again_after_a_burst_of_late_requests(service, fake):
    srv, http = service
    fake.reset()
    reasons: list[str] = []
    lock = threading.Lock()

    def client():
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            for _ in range(80):   # at this load most LLM calls are given up on
                r = c.post("/v1/tag", json=BODY | {"deadline_ms": 50})
                with lock:
                    reasons.append(r.json()["reason"] if r.status_code == 200 else str(r.status_code))

    threads = [threading.Thread(target=client) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(reasons) == 32 * 80
    assert set(reasons) <= {"llm", "llm_timeout", "llm_busy", "no_time_left", "overloaded",
                            "deadline_passed"}, set(reasons)
    # wedged pool: every later call waited out its whole deadline; fixed: the LLM answers
    body = answers_with_llm(http)
    assert (body["backend"], body["reason"], body["emotion_name"]) == ("openai", "llm", "proud")


@pytest.mark.parametrize("behaviour, reason", [
    ("hang", "llm_timeout"), ("slow", "llm_timeout"), ("trickle", "llm_timeout"),
    ("http500", "llm_http_error"), ("close", "llm_http_error"), ("reset", "llm_http_error"),
    ("bad_gzip", "llm_http_error"), ("malformed", "llm_invalid_output"),
    ("invalid_tag", "llm_invalid_output"), ("huge", "llm_invalid_output"),
])
def test_each_misbehaving_upstream_gets_the_fallback_then_the_llm_recovers(service, fake,
                                                                            behaviour, reason):
    _, http = service
    fake.reset()
    fake.behaviour, fake.delay_s = behaviour, 30.0
    fake.trickle_every_s = 0.05
    deadline_ms = 300 if reason == "llm_timeout" else GENEROUS_MS
    r = http.post("/v1/tag", json=BODY | {"deadline_ms": deadline_ms})
    assert r.status_code == 200
    body = r.json()
    assert (body["backend"], body["reason"]) == ("classifier", reason)
    assert body["emotion_name"] in EMOTIONS and body["celebrate"] in ("yes", "no")
    fake.reset()                               # the upstream is healthy again
    body = answers_with_llm(http)
    assert (body["backend"], body["reason"]) == ("openai", "llm")


def test_hung_upstream_under_concurrency_still_gives_valid_tags(service, fake):
    srv, _ = service
    fake.reset()
    fake.behaviour = "hang"
    results: list[tuple[int, str, str]] = []
    lock = threading.Lock()

    def client():
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            for _ in range(5):
                r = c.post("/v1/tag", json=BODY | {"deadline_ms": 50})
                with lock:
                    results.append((r.status_code, r.json().get("reason"), r.json().get("emotion_name")))

    threads = [threading.Thread(target=client) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {s for s, _, _ in results} == {200}
    assert {r for _, r, _ in results} <= {"llm_timeout", "llm_busy", "no_time_left", "overloaded",
                                         "deadline_passed"}
    assert all(e in EMOTIONS for _, _, e in results)
    fake.reset()
    assert llm_answers_again(service[1])
