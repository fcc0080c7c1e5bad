"""In-process (ASGI) tests of the API contract, and schemathesis on our own OpenAPI schema."""

from __future__ import annotations

import json

import pytest
import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings, strategies as st

from mood_tagger.errors import InputError
from mood_tagger.serving.app import create_app
from mood_tagger.serving.chat_format import parse_context
from mood_tagger.settings import Settings
from tests.service_helpers import shipped_backend

APP = create_app(Settings(), backend=shipped_backend())


@pytest.fixture(scope="module")
def client():
    with TestClient(APP) as c:
        yield c


def _chat(content, **extra):
    return {"model": "any", "messages": [{"role": "system", "content": "x"},
                                         {"role": "user", "content": content}], **extra}


def test_chat_answer_is_a_standard_completion(client):
    r = client.post("/v1/chat/completions", json=_chat(
        '[CONTEXT]\nuser_last_message: "2 + 2 bằng 5 ạ"\n'
        'pika_response: "Ơ, chưa đúng rồi! Thử lại xem, 2 thêm 2 nữa là mấy nhỉ?"\n[OUTPUT]\n'))
    body = r.json()
    assert r.status_code == 200 and body["object"] == "chat.completion"
    assert body["choices"][0]["finish_reason"] == "stop"
    assert json.loads(body["choices"][0]["message"]["content"]) == {
        "emotion_name": body["choices"][0]["message"]["content"] and
        json.loads(body["choices"][0]["message"]["content"])["emotion_name"], "celebrate": "no"}
    assert set(body["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}


@pytest.mark.parametrize("payload, words", [
    (_chat("hello"), "expected format"),
    (_chat('[CONTEXT]\nuser_last_message: "a"\n'), "pika_response"),
    (_chat('[CONTEXT]\nuser_last_message: "a"\npika_response: "b"', stream=True), "stream"),
    ({"model": "x", "messages": [{"role": "system", "content": "only system"}]}, "no user message"),
    ({"model": "x", "messages": []}, "messages"),
])
def test_chat_bad_requests_show_the_expected_format(client, payload, words):
    r = client.post("/v1/chat/completions", json=payload)
    assert 400 <= r.status_code < 500
    assert words in r.json()["error"]["message"]


def test_deadline_field_and_header_are_validated(client):
    ok = client.post("/v1/tag", json={"user_last_message": "a", "pika_response": "b",
                                      "deadline_ms": 20})
    assert ok.status_code == 200
    bad = client.post("/v1/tag", json={"user_last_message": "a", "pika_response": "b",
                                       "deadline_ms": -1})
    assert bad.status_code == 422 and bad.json()["error"]["param"] == "deadline_ms"
    hdr = client.post("/v1/chat/completions", headers={"X-Deadline-Ms": "-3"},
                      json=_chat('user_last_message: "a"\npika_response: "b"'))
    assert hdr.status_code == 422


@settings(max_examples=200, deadline=None)
@given(user=st.text(min_size=1, max_size=200), pika=st.text(min_size=1, max_size=200))
def test_context_parser_round_trips_any_text(user, pika):
    content = f'[CONTEXT]\nuser_last_message: "{user}"\npika_response: "{pika}"\n[OUTPUT]\n'
    try:
        got_user, got_pika, _ = parse_context(content)
    except InputError:
        return  # only texts that themselves contain a field marker can be ambiguous
    if "pika_response:" not in user + pika and "[OUTPUT]" not in pika:
        assert (got_user, got_pika) == (user, pika)


schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_openapi_contract(case):
    """schemathesis: no 5xx, responses conform to the schema, for any generated request.

    positive_data_acceptance is excluded: the schema cannot express the `[CONTEXT]` format or
    "not only whitespace", so some schema-valid bodies are rightly refused with a 400."""
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
