"""In-process (ASGI) tests of the API contract, and schemathesis on our own OpenAPI schema."""

from __future__ import annotations

import json

import pytest
import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings, strategies as st

from mood_tagger.errors import InputError
from mood_tagger.labels import EMOTION_TAGS
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
    answer = json.loads(body["choices"][0]["message"]["content"])
    assert set(answer) == {"emotion_name", "celebrate"}
    assert answer["emotion_name"] in EMOTION_TAGS and answer["celebrate"] == "no"
    assert set(body["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}


@pytest.mark.parametrize("payload, words", [
    (_chat("hello"), "expected format"),
    (_chat('[CONTEXT]\nuser_last_message: "a"\n'), "pika_response"),
    (_chat('[CONTEXT]\nuser_last_message: "a"\npika_response: "b"',
           stream_options={"include_usage": True}), '"stream": true'),
    ({"model": "x", "messages": [{"role": "system", "content": "only system"}]}, "no user message"),
    ({"model": "x", "messages": []}, "messages"),
])
def test_chat_bad_requests_show_the_expected_format(client, payload, words):
    r = client.post("/v1/chat/completions", json=payload)
    assert 400 <= r.status_code < 500
    assert words in r.json()["error"]["message"]


def test_a_typod_field_is_refused_by_name_with_the_close_known_one(client):
    r = client.post("/v1/tag", json={"user_last_message": "a", "pika_response": "b",
                                     "histroy": [{"role": "pika", "text": "1 + 1?"}]})
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["param"] == "histroy" and "did you mean 'history'" in error["message"]
    r = client.post("/v1/tag/batch", json={"items": [{"user_last_message": "a", "pika_response": "b",
                                                      "zzz": 1}]})
    assert r.status_code == 422 and "unknown field" in r.json()["error"]["message"]


def test_deadline_field_and_header_are_validated(client):
    ok = client.post("/v1/tag", json={"user_last_message": "a", "pika_response": "b",
                                      "deadline_ms": 20})
    assert ok.status_code == 200
    bad = client.post("/v1/tag", json={"user_last_message": "a", "pika_response": "b",
                                       "deadline_ms": -1})
    assert bad.status_code == 422 and bad.json()["error"]["param"] == "deadline_ms"
    for not_a_number in (True, "50"):
        r = client.post("/v1/tag", json={"user_last_message": "a", "pika_response": "b",
                                         "deadline_ms": not_a_number})
        assert r.status_code == 422 and r.json()["error"]["param"] == "deadline_ms"
    hdr = client.post("/v1/chat/completions", headers={"X-Deadline-Ms": "-3"},
                      json=_chat('user_last_message: "a"\npika_response: "b"'))
    assert hdr.status_code == 422


@settings(max_examples=200, deadline=None)
@given(user=st.text(min_size=1, max_size=200), pika=st.text(min_size=1, max_size=200))
def test_context_parser_round_trips_any_text(user, pika):
    content = f'[CONTEXT]\nuser_last_message: "{user}"\npika_response: "{pika}"\n[OUTPUT]\n'
    ambiguous = ("pika_response:" in user + pika or "[OUTPUT]" in pika or "\\" in user + pika
                 or "user_last_message:" in user + pika)
    try:
        got_user, got_pika, _ = parse_context(content)
    except InputError:
        assert ambiguous  # only texts holding a field marker or an escape can confuse the parser
        return
    if not ambiguous:
        assert (got_user, got_pika) == (user, pika)


def test_context_written_by_our_llm_backend_round_trips():
    from mood_tagger.backends.prompt import build_user_content
    from mood_tagger.data.inputs import make_exchange

    ex = make_exchange('Con nói "Hà Nội"\nạ', 'Đúng rồi! "Hà Nội" \\ thủ đô.',
                       [{"role": "pika", "text": "Thủ đô là gì?"}, {"role": "child", "text": "hmm"}])
    user, pika, history = parse_context(build_user_content(ex))
    assert (user, pika) == (ex.user_last_message, ex.pika_response)
    assert history == [{"role": "pika", "text": "Thủ đô là gì?"}, {"role": "child", "text": "hmm"}]


chat_content = st.one_of(
    st.text(max_size=300),
    st.builds(lambda u, p: f'[CONTEXT]\nuser_last_message: "{u}"\npika_response: "{p}"',
              st.text(max_size=80), st.text(max_size=80)),
    st.lists(st.fixed_dictionaries({"type": st.just("text"),
                                    "text": st.one_of(st.text(max_size=80), st.integers(),
                                                      st.lists(st.text(max_size=5)))}),
             max_size=3))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(content=chat_content, history=st.one_of(st.none(), st.text(max_size=40),
                                               st.just("[" * 5000 + "]" * 5000)))
def test_chat_route_never_answers_5xx(client, content, history):
    if history is not None and isinstance(content, str):
        content = f"history: {history}\n" + content
    r = client.post("/v1/chat/completions", json={"model": "m", "messages": [
        {"role": "user", "content": content}]})
    assert r.status_code in (200, 400, 422), r.text
    if r.status_code == 200:
        answer = json.loads(r.json()["choices"][0]["message"]["content"])
        assert answer["emotion_name"] in EMOTION_TAGS and answer["celebrate"] in ("yes", "no")
    else:
        assert r.json()["error"]["message"]


def test_lone_surrogate_is_a_clear_400(client):
    body = b'{"model": "m", "messages": [{"role": "user", "content": ' \
           b'"user_last_message: \\"\\ud800\\"\\npika_response: \\"ok\\""}]}'
    r = client.post("/v1/chat/completions", content=body,
                    headers={"content-type": "application/json"})
    assert r.status_code == 400 and "surrogate" in r.json()["error"]["message"]


schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_openapi_contract(case):
    """schemathesis: no 5xx, responses conform to the schema, for any generated request.

    positive_data_acceptance is excluded: the schema cannot express the `[CONTEXT]` format or
    "not only whitespace", so some schema-valid bodies are rightly refused with a 400."""
    case.call_and_validate(excluded_checks=[positive_data_acceptance])


def test_typed_content_parts_are_read_and_other_parts_ignored(client):
    parts = [{"type": "text", "text": '[CONTEXT]\nuser_last_message: "2 + 2 bằng 4"\n'},
             {"type": "image_url", "image_url": {"url": "http://example.invalid/x.png"}},
             {"type": "text", "text": 'pika_response: "Chính xác! Giỏi quá!"\n[OUTPUT]\n'}]
    r = client.post("/v1/chat/completions", json={"model": "m", "messages": [
        {"role": "user", "content": parts}]})
    assert r.status_code == 200, r.text
    assert json.loads(r.json()["choices"][0]["message"]["content"])["emotion_name"] in EMOTION_TAGS


def test_chat_content_size_is_bounded_and_newline_floods_are_plain_errors(client):
    too_long = client.post("/v1/chat/completions", json=_chat("x" * 64_001))
    assert too_long.status_code == 422 and too_long.json()["error"]["param"] == "messages.1.content"
    flood = client.post("/v1/chat/completions", json=_chat("\n" * 60_000 + "pika_response: x"))
    assert flood.status_code == 400 and "expected format" in flood.json()["error"]["message"]


def test_batch_errors_name_the_item(client):
    items = [{"user_last_message": "a", "pika_response": "b"},
             {"user_last_message": "   ", "pika_response": "b"}]
    r = client.post("/v1/tag/batch", json={"items": items})
    assert r.status_code == 400
    assert r.json()["error"]["message"].startswith("items[1].user_last_message: must not be empty")
