"""The service with the cascade backend, over real HTTP, in front of a real fake-vLLM upstream:
answers within the request's deadline whatever the upstream does, and says who answered."""

from __future__ import annotations

import time

import httpx
import pytest

from mood_tagger.backends import create_backend
from mood_tagger.serving.app import create_app
from mood_tagger.serving.server import ThreadedServer
from mood_tagger.settings import Settings

SLACK_MS = 60  # HTTP + a slow 2-core CI box; the cascade's own margin is 3 ms
BODY = {"user_last_message": "2 cộng 3 bằng 5", "pika_response": "Chính xác! Tiếp câu sau nhé.",
        "history": [{"role": "pika", "text": "2 cộng 3 bằng mấy?"}]}


@pytest.fixture(scope="module")
def service(fake, tiny_model_path):
    settings = Settings(model=tiny_model_path, backend="cascade", llm_base_url=fake.url,
                        llm_model="teacher", cascade_threshold=1.0, llm_timeout_ms=5000)
    app = create_app(settings, backend=create_backend("cascade", settings))
    with ThreadedServer(app) as srv, httpx.Client(base_url=srv.url, timeout=10) as http:
        http.post("/v1/tag", json=BODY | {"deadline_ms": 2000})  # warm the connections
        yield http


@pytest.mark.parametrize("behaviour, reason", [("hang", "llm_timeout"), ("slow", "llm_timeout"),
                                               ("http500", "llm_http_error"),
                                               ("malformed", "llm_invalid_output"),
                                               ("obey", "llm_invalid_output")])
def test_deadline_holds_and_classifier_answers_on_failure(service, fake, behaviour, reason):
    fake.reset()
    fake.behaviour, fake.delay_s = behaviour, 1.0
    start = time.perf_counter()
    r = service.post("/v1/tag", json=BODY | {"deadline_ms": 50})
    elapsed_ms = (time.perf_counter() - start) * 1000
    assert r.status_code == 200
    body = r.json()
    assert (body["backend"], body["reason"]) == ("classifier", reason)
    assert elapsed_ms < 50 + SLACK_MS
    metrics = service.get("/metrics").text
    assert f'mood_tagger_tags_total{{backend="classifier",reason="{reason}"}}' in metrics


def test_llm_answers_when_in_time_and_chat_route_takes_the_deadline_header(service, fake):
    fake.reset()
    fake.behaviour, fake.label = "ok", ("proud", "yes")
    r = service.post("/v1/tag", json=BODY | {"deadline_ms": 2000}).json()
    assert (r["backend"], r["reason"], r["emotion_name"]) == ("openai", "llm", "proud")
    fake.behaviour = "hang"
    content = '[CONTEXT]\nuser_last_message: "5"\npika_response: "Đúng rồi!"\n[OUTPUT]\n'
    start = time.perf_counter()
    chat = service.post("/v1/chat/completions", headers={"X-Deadline-Ms": "40"},
                        json={"model": "x", "messages": [{"role": "user", "content": content}]})
    assert chat.status_code == 200 and chat.json()["mood_tagger"]["reason"] == "llm_timeout"
    assert (time.perf_counter() - start) * 1000 < 40 + SLACK_MS
