"""Integration tests: a real uvicorn server on an ephemeral port, spoken to over HTTP."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import httpx
import pytest
import requests

from mood_tagger.labels import CELEBRATE_VALUES, EMOTION_TAGS
from mood_tagger.serving.app import create_app
from mood_tagger.serving.server import ThreadedServer
from mood_tagger.settings import Settings
from tests.service_helpers import shipped_backend

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def server():
    with ThreadedServer(create_app(Settings(), backend=shipped_backend())) as srv:
        yield srv


def test_original_plan_client_works_unchanged(server, monkeypatch, capsys):
    """examples/test_emotion_classifier.py is the plan's client, verbatim; only its
    API_URL global is pointed at this test's ephemeral port before its test loop runs."""
    source = (EXAMPLES / "test_emotion_classifier.py").read_text(encoding="utf-8")
    head, tail = source.split("# Test cases", 1)
    monkeypatch.chdir(EXAMPLES)  # it reads emotion_classifier_prompt.txt from the cwd
    ns: dict = {"__name__": "original_client"}
    exec(compile(head, "test_emotion_classifier.py", "exec"), ns)
    ns["API_URL"] = f"{server.url}/v1/chat/completions"
    exec(compile("# Test cases" + tail, "test_emotion_classifier.py", "exec"), ns)
    assert "All tests completed" in capsys.readouterr().out
    expected = {"Factual Q&A - Should celebrate": "yes", "Opinion - Should NOT celebrate": "no",
                "Wrong answer - Should NOT celebrate": "no"}
    for case in ns["test_cases"]:
        result = ns["classify_emotion"](case["user"], case["pika"])
        assert result["celebrate"] == expected[case["name"]], case
        assert result["emotion"] in EMOTION_TAGS


def test_plan_client_runs_from_the_repo_root(server):
    """The README's command, in a fresh process from the repo root."""
    import subprocess
    import sys
    root = EXAMPLES.parent
    out = subprocess.run([sys.executable, "examples/plan_client.py", "--url",
                          f"{server.url}/v1/chat/completions"], cwd=root, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "All tests completed" in out.stdout and "Error" not in out.stdout


def test_official_openai_package_works(server):
    from openai import OpenAI

    client = OpenAI(base_url=f"{server.url}/v1", api_key="unused")
    completion = client.chat.completions.create(
        model="microsoft/Phi-3-mini-4k-instruct", temperature=0, max_tokens=50,
        response_format={"type": "json_object"},
        messages=[{"role": "system", "content": "tagger"},
                  {"role": "user", "content": '[CONTEXT]\nuser_last_message: "Tớ thích màu xanh nhất!"\n'
                                              'pika_response: "Ồ, màu xanh đẹp thật!"\n[OUTPUT]\n'}])
    answer = json.loads(completion.choices[0].message.content)
    assert answer["celebrate"] == "no" and answer["emotion_name"] in EMOTION_TAGS
    assert completion.usage.total_tokens > 0
    assert [m.id for m in client.models.list().data]


def test_tag_batch_health_models_metrics(server):
    with httpx.Client(base_url=server.url) as http:
        assert http.get("/healthz").json()["status"] == "ok"
        items = [{"user_last_message": f"{i} cộng 1 bằng {i + 1}", "pika_response": "Đúng rồi!"}
                 for i in range(5)] + [{"user_last_message": "Con buồn", "pika_response": "Thương con"}]
        results = http.post("/v1/tag/batch", json={"items": items}).json()["results"]
        assert len(results) == 6
        single = [http.post("/v1/tag", json=item).json() for item in items]
        assert [r["emotion_name"] for r in results] == [s["emotion_name"] for s in single]
        assert all(r["celebrate"] in CELEBRATE_VALUES for r in results)
        text = http.get("/metrics").text
        assert 'mood_tagger_requests_total{method="POST",route="/v1/tag",status="200"} 6.0' in text
        assert 'mood_tagger_request_latency_seconds_bucket{le="0.001",route="/v1/tag"}' in text
        assert http.get("/v1/models").json()["data"][0]["owned_by"] == "mood-tagger"


@pytest.mark.parametrize("send, status, words", [
    (dict(content=b"{not json", headers={"content-type": "application/json"}), 400, "not valid JSON"),
    (dict(content=b'{"user_last_message": "\xff\xfe", "pika_response": "x"}',
          headers={"content-type": "application/json"}), 400, "UTF-8"),
    (dict(content=b"user=hi", headers={"content-type": "application/x-www-form-urlencoded"}), 415,
     "application/json"),
    (dict(json={"user_last_message": "hi"}), 422, "pika_response"),
    (dict(json={"user_last_message": 5, "pika_response": "x"}), 422, "user_last_message"),
    (dict(json={"user_last_message": "x" * 4001, "pika_response": "x"}), 422, "4000"),
    (dict(json=[1, 2]), 400, "body: Input should be a valid dictionary"),
])
def test_bad_input_gets_clear_4xx_and_service_keeps_serving(server, send, status, words):
    r = httpx.post(f"{server.url}/v1/tag", **send)
    assert r.status_code == status, r.text
    assert words in r.json()["error"]["message"]
    ok = httpx.post(f"{server.url}/v1/tag", json={"user_last_message": "a", "pika_response": "b"})
    assert ok.status_code == 200


def test_limits_and_unknown_routes(server):
    item = {"user_last_message": "a", "pika_response": "b"}
    r = httpx.post(f"{server.url}/v1/tag/batch", json={"items": [item] * 257})
    assert r.status_code == 422 and "256" in r.json()["error"]["message"]
    r = httpx.get(f"{server.url}/v2/nothing")
    assert r.status_code == 404 and "/docs" in r.json()["error"]["message"]
    r = httpx.get(f"{server.url}/v1/tag")
    assert r.status_code == 405
    big = b'{"user_last_message": "' + b"a" * (17 * 1024 * 1024) + b'", "pika_response": "b"}'
    r = httpx.post(f"{server.url}/v1/tag", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "split" in r.json()["error"]["message"]


def test_requests_library_with_quotes_and_newlines(server):
    content = ('[CONTEXT]\nuser_last_message: "Con nói "Hà Nội" ạ\nhết"\n'
               'pika_response: "Đúng rồi! "Hà Nội" là thủ đô.\nGiỏi quá!"\n[OUTPUT]\n')
    r = requests.post(f"{server.url}/v1/chat/completions", timeout=5,
                      json={"model": "x", "messages": [{"role": "user", "content": content}]})
    assert r.status_code == 200
    assert json.loads(r.json()["choices"][0]["message"]["content"])["celebrate"] in CELEBRATE_VALUES


def test_api_key_protects_everything_but_healthz():
    app = create_app(Settings(api_key="s3cret"), backend=shipped_backend())
    with ThreadedServer(app) as srv, httpx.Client(base_url=srv.url) as http:
        body = {"user_last_message": "a", "pika_response": "b"}
        assert http.get("/healthz").status_code == 200
        for method, path in (("POST", "/v1/tag"), ("GET", "/v1/models"), ("GET", "/metrics"),
                             ("GET", "/docs")):
            r = http.request(method, path, json=body if method == "POST" else None)
            assert r.status_code == 401 and "Bearer" in r.json()["error"]["message"]
        ok = http.post("/v1/tag", json=body, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200


def test_children_messages_are_not_logged_by_default(caplog):
    secret = "bí-mật-của-bé-Na-42"
    body = {"user_last_message": secret, "pika_response": f"{secret} nhé"}
    for log_requests in (False, True):
        caplog.clear()
        app = create_app(Settings(log_requests=log_requests), backend=shipped_backend())
        with caplog.at_level(logging.DEBUG), ThreadedServer(app) as srv:
            assert httpx.post(f"{srv.url}/v1/tag", json=body).status_code == 200
            httpx.post(f"{srv.url}/v1/tag", json=body | {"history": "oops"})
        logged = any(secret in r.getMessage() for r in caplog.records)
        assert logged is log_requests


def test_serve_command_defaults_to_loopback(monkeypatch):
    from mood_tagger.cli import build_parser
    from mood_tagger.commands.common import settings_from_args

    monkeypatch.delenv("MOOD_TAGGER_HOST", raising=False)
    args = build_parser().parse_args(["serve"])
    settings = settings_from_args(args)
    assert (settings.host, settings.port) == ("127.0.0.1", 7862)
    assert settings.model == Path(os.path.dirname(__file__)).parent / "mood_tagger" / "models" / "default"
