"""What an operator relies on: x-request-id, JSON access logs without texts, opt-in text
logging that really prints, readiness apart from liveness, `python -m mood_tagger`."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from mood_tagger.backends import create_backend
from mood_tagger.data.schema import Exchange
from mood_tagger.serving.app import create_app
from mood_tagger.serving.server import ThreadedServer
from mood_tagger.settings import Settings
from tests.service_helpers import shipped_backend

BODY = {"user_last_message": "Con voi ăn cỏ ạ", "pika_response": "Đúng rồi, con giỏi lắm!"}


@pytest.fixture(scope="module")
def server():
    with ThreadedServer(create_app(Settings(), backend=shipped_backend())) as srv:
        yield srv


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_request_id_is_echoed_or_generated_on_every_answer(server):
    with httpx.Client(base_url=server.url) as http:
        assert http.post("/v1/tag", json=BODY, headers={"x-request-id": "robot-7-42"}
                         ).headers["x-request-id"] == "robot-7-42"
        generated = {http.post("/v1/tag", json=BODY).headers["x-request-id"] for _ in range(3)}
        assert len(generated) == 3 and all(len(g) == 32 for g in generated)
        assert http.get("/nope").headers["x-request-id"]                       # errors too
        weird = http.get("/healthz", headers={"x-request-id": "a b"}).headers["x-request-id"]
        assert weird != "a b"                                                   # unusable: replaced


def test_access_log_is_json_without_the_texts(server, caplog):
    with caplog.at_level(logging.INFO, logger="mood_tagger"):
        httpx.post(f"{server.url}/v1/tag", json=BODY, headers={"x-request-id": "abc"})
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "mood_tagger.access"]
    (line,) = [x for x in lines if x["request_id"] == "abc"]
    assert line["path"] == "/v1/tag" and line["status"] == 200 and line["latency_ms"] > 0
    assert "voi" not in caplog.text and "giỏi" not in caplog.text


def test_log_requests_logs_texts_with_the_request_id(caplog):
    with ThreadedServer(create_app(Settings(log_requests=True), backend=shipped_backend())) as srv, \
            caplog.at_level(logging.INFO, logger="mood_tagger"):
        httpx.post(f"{srv.url}/v1/tag", json=BODY, headers={"x-request-id": "xyz"})
    (tag,) = [json.loads(r.getMessage()) for r in caplog.records if r.name == "mood_tagger.serving"]
    assert tag["request_id"] == "xyz" and tag["user_last_message"] == BODY["user_last_message"]


def test_readiness_reports_an_unreachable_llm_and_keeps_serving(server):
    dead = f"http://127.0.0.1:{free_port()}/v1"
    for llm_url, status in ((f"{server.url}/v1", "ready"), (dead, "degraded")):
        settings = Settings(backend="cascade", llm_base_url=llm_url, cascade_tiers="classifier,openai")
        app = create_app(settings, backend=create_backend("cascade", settings))
        with ThreadedServer(app) as srv, httpx.Client(base_url=srv.url) as http:
            ready = http.get("/readyz")
            assert ready.status_code == 200 and ready.json()["status"] == status, ready.text
            tiers = {t["backend"]: t for t in ready.json()["tiers"]}
            assert tiers["classifier"]["status"] == "ok"
            assert tiers["openai"]["status"] == ("ok" if status == "ready" else "unreachable")
            assert http.get("/healthz").json()["status"] == "ok"               # liveness unaffected
            assert http.post("/v1/tag", json=BODY).status_code == 200


def test_a_missing_encoder_degrades_the_service_instead_of_stopping_it(tmp_path):
    from mood_tagger.errors import ModelError
    strict = Settings(backend="encoder", encoder_model=tmp_path)          # no model files there
    with pytest.raises(ModelError, match="not an encoder model folder"):
        create_backend("encoder", strict)                                # tag / eval / bench: an error
    settings = strict.model_copy(update={"encoder_missing_ok": True})   # what `serve` sets
    with ThreadedServer(create_app(settings, backend=create_backend("encoder", settings))) as srv, \
            httpx.Client(base_url=srv.url) as http:
        ready = http.get("/readyz").json()
        assert ready["status"] == "degraded", ready
        tiers = [(t["backend"], t["status"]) for t in ready["tiers"]]
        assert tiers == [("encoder", "missing"), ("classifier", "ok")]
        assert str(tmp_path) in ready["tiers"][0]["detail"]
        body = http.post("/v1/tag", json=BODY).json()
        assert (body["backend"], body["reason"]) == ("classifier", "encoder_missing")
        assert body["emotion_name"] == shipped_backend().tag(Exchange(**BODY)).emotion_name


def test_readyz_is_open_like_healthz():
    with ThreadedServer(create_app(Settings(api_key="k"), backend=shipped_backend())) as srv:
        assert httpx.get(f"{srv.url}/readyz").json()["status"] == "ready"
        assert httpx.post(f"{srv.url}/v1/tag", json=BODY).status_code == 401


def test_python_dash_m_serve_with_log_requests_prints_json_lines(tmp_path):
    """The real command, as an operator runs it: the log lines reach stderr."""
    port = free_port()
    err = tmp_path / "stderr.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOOD_TAGGER_")}
    with err.open("w") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "mood_tagger", "serve", "--backend", "classifier",
                                 "--port", str(port), "--log-requests"], stderr=stderr,
                                stdout=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, err.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        httpx.post(f"http://127.0.0.1:{port}/v1/tag", json=BODY, headers={"x-request-id": "cli-1"})
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    records = [json.loads(line) for line in err.read_text().splitlines() if line.startswith("{")]
    assert {"request", "tag"} <= {r["event"] for r in records if r.get("request_id") == "cli-1"}
    assert any(r.get("user_last_message") == BODY["user_last_message"] for r in records)


def test_docs_work_offline(server):
    with httpx.Client(base_url=server.url) as http:
        page = http.get("/docs")
        assert page.status_code == 200 and "cdn" not in page.text.lower()
        assert "/static-offline-docs/swagger-ui-bundle.js" in page.text
        js = http.get("/static-offline-docs/swagger-ui-bundle.js")
        assert js.status_code == 200 and len(js.content) > 100_000
        assert http.get("/openapi.json").json()["paths"]["/v1/chat/completions"]
