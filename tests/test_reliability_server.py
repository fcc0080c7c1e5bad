"""Issue 8, the HTTP edge against a real server: header limit, Host allowlist, auth details,
lone surrogates, load shedding (fallback tag or 503), big batches. Outcomes only, no timings."""

from __future__ import annotations

import json
import socket
import threading

import httpx
import pytest
from pydantic import ValidationError

from mood_tagger.backends.cascade import CascadeBackend
from mood_tagger.serving.app import create_app
from mood_tagger.serving.server import ThreadedServer
from mood_tagger.settings import Settings
from tests.service_helpers import SlowBackend, shipped_backend

BODY = {"user_last_message": "2 cộng 3 bằng 5", "pika_response": "Chính xác! Tiếp câu sau nhé."}
CHAT = '[CONTEXT]\nuser_last_message: "5"\npika_response: "Đúng rồi!"'


@pytest.fixture(scope="module")
def guarded():
    settings = Settings(backend="classifier", api_key="s3cret", allowed_hosts="127.0.0.1,localhost")
    with ThreadedServer(create_app(settings, backend=shipped_backend()), settings=settings) as srv, \
            httpx.Client(base_url=srv.url, timeout=30,
                         headers={"Authorization": "Bearer s3cret"}) as http:
        yield http


def test_headers_over_64_kib_get_431_and_smaller_ones_are_served(guarded):
    assert guarded.get("/v1/models", headers={"X-Pad": "a" * 60_000}).status_code == 200
    r = guarded.get("/v1/models", headers={"X-Pad": "a" * 70_000})
    assert r.status_code == 431 and "exceed the limit of 65536" in r.json()["error"]["message"]


def test_host_allowlist_refuses_other_names(guarded):
    r = guarded.get("/v1/models", headers={"Host": "rebind.attacker.example"})
    assert r.status_code == 421 and "MOOD_TAGGER_ALLOWED_HOSTS" in r.json()["error"]["message"]
    assert guarded.get("/v1/models", headers={"Host": "localhost:7862"}).status_code == 200
    assert guarded.get("/healthz", headers={"Host": "rebind.attacker.example"}).status_code == 200


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer"])
def test_bearer_scheme_is_case_insensitive(guarded, scheme):
    r = guarded.post("/v1/tag", json=BODY, headers={"Authorization": f"{scheme} s3cret"})
    assert r.status_code == 200
    assert guarded.post("/v1/tag", json=BODY, headers={"Authorization": f"{scheme} nope"}
                        ).status_code == 401


def test_empty_api_key_is_refused_and_a_key_file_is_read(tmp_path, monkeypatch):
    monkeypatch.setenv("MOOD_TAGGER_API_KEY", "")
    with pytest.raises(ValidationError, match="set but empty"):
        Settings()
    monkeypatch.delenv("MOOD_TAGGER_API_KEY")
    key = tmp_path / "key"
    key.write_text("from-a-file\n")
    assert Settings(api_key_file=key).api_key == "from-a-file"
    key.write_text("")
    with pytest.raises(ValidationError, match="is empty"):
        Settings(api_key_file=key)


def test_lone_surrogate_in_chat_model_is_a_clean_4xx_and_the_connection_lives(guarded):
    body = '{"model": "\\ud800", "messages": [{"role": "user", "content": %s}]}' % json.dumps(CHAT)
    r = guarded.post("/v1/chat/completions", content=body.encode(),
                     headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["param"] == "model"
    assert guarded.post("/v1/tag", json=BODY).status_code == 200   # same pooled connection


def test_a_256_item_batch_is_tagged_in_order(guarded):
    items = [BODY | {"user_last_message": f"{i} cộng 0 bằng {i}"} for i in range(256)]
    r = guarded.post("/v1/tag/batch", json={"items": items})
    assert r.status_code == 200 and len(r.json()["results"]) == 256


def _overload(overload_503: bool):
    """One slot, no queue: while one slow LLM-like tagging runs, the next request is shed."""
    settings = Settings(backend="cascade", max_concurrency=1, max_queue=0,
                        overload_503=overload_503, default_deadline_ms=5000)
    backend = CascadeBackend(shipped_backend(), SlowBackend(1.0), threshold=1.0,
                             default_deadline_ms=5000)
    with ThreadedServer(create_app(settings, backend=backend), settings=settings) as srv, \
            httpx.Client(base_url=srv.url, timeout=30) as http:
        first = threading.Thread(target=lambda: http.post("/v1/tag", json=BODY))
        first.start()
        try:
            while "mood_tagger_in_flight 1.0" not in http.get("/metrics").text:
                pass
            with httpx.Client(base_url=srv.url, timeout=30) as other:
                shed = other.post("/v1/tag", json=BODY)
                metrics = other.get("/metrics").text
        finally:
            first.join()
    return shed, metrics


def test_overload_sheds_with_the_fallback_tag_and_counts_it():
    r, metrics = _overload(False)
    assert r.status_code == 200
    assert (r.json()["backend"], r.json()["reason"]) == ("classifier", "overloaded")
    assert 'mood_tagger_shed_total{reason="overloaded"} 1.0' in metrics


def test_overload_can_answer_503_with_retry_after():
    r, _ = _overload(True)
    assert r.status_code == 503 and r.headers["Retry-After"] == "1"
    assert r.json()["error"]["type"] == "model_unavailable"


def test_a_connection_that_never_sends_a_byte_is_closed_after_the_idle_timeout():
    settings = Settings(backend="classifier", keep_alive_s=0.2)
    with ThreadedServer(create_app(settings, backend=shipped_backend()), settings=settings) as srv:
        with socket.create_connection((srv.host, srv.port), timeout=30) as idle:
            assert idle.recv(1) == b""            # closed by the server, not by our timeout
        assert httpx.post(srv.url + "/v1/tag", json=BODY).status_code == 200
