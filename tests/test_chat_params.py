"""Every chat-completions option is honoured, or refused with a 400 naming it (a real server)."""

from __future__ import annotations

import json
import math

import httpx
import pytest

from tests.service_helpers import post_chat, shipped_service_client

CONTEXT = ('[CONTEXT]\nuser_last_message: "Dạ, con voi ăn cỏ ạ."\n'
           'pika_response: "Đúng rồi, con giỏi lắm!"\n[OUTPUT]\n')
ANSWER = '{"emotion_name": "proud", "celebrate": "yes"}'
TAG_SCHEMA = {"type": "object", "additionalProperties": False, "required": ["emotion_name", "celebrate"],
              "properties": {"emotion_name": {"type": "string"}, "celebrate": {"enum": ["yes", "no"]}}}


@pytest.fixture(scope="module")
def http():
    with shipped_service_client() as client:
        yield client


def chat(http, **options) -> httpx.Response:
    return post_chat(http, CONTEXT, **options)


def test_defaults_answer_the_whole_json_with_stop(http):
    body = chat(http).json()
    (choice,) = body["choices"]
    assert choice["message"]["content"] == ANSWER and choice["finish_reason"] == "stop"
    assert choice["logprobs"] is None and body["usage"]["completion_tokens"] == 17


def test_n_returns_n_identical_choices_and_counts_their_tokens(http):
    body = chat(http, n=3).json()
    assert [c["index"] for c in body["choices"]] == [0, 1, 2]
    assert {c["message"]["content"] for c in body["choices"]} == {ANSWER}
    assert body["usage"]["completion_tokens"] == 3 * 17


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_a_small_token_limit_truncates_with_finish_reason_length(http, field):
    (choice,) = chat(http, **{field: 7}).json()["choices"]
    assert choice["message"]["content"] == '{"emotion_name": "proud'
    assert choice["finish_reason"] == "length"
    assert chat(http, **{field: 17}).json()["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("stop, content", [
    ('"celebrate', '{"emotion_name": "proud", '),
    (["}", "prou"], '{"emotion_name": "'),
    ("ud\", \"cel", '{"emotion_name": "pro'),          # a stop string across three tokens
])
def test_stop_ends_the_answer_before_the_stop_string(http, stop, content):
    (choice,) = chat(http, stop=stop).json()["choices"]
    assert choice["message"]["content"] == content
    assert choice["finish_reason"] == "stop" and choice["stop_reason"] in (stop if isinstance(stop, list)
                                                                           else [stop])


def test_include_stop_str_in_output_keeps_it(http):
    content = chat(http, stop="proud", include_stop_str_in_output=True).json()["choices"][0]["message"]
    assert content["content"] == '{"emotion_name": "proud'


def test_logprobs_carry_the_tag_probabilities(http):
    native = http.post("/v1/tag", json={"user_last_message": "Dạ, con voi ăn cỏ ạ.",
                                        "pika_response": "Đúng rồi, con giỏi lắm!"}).json()
    entries = chat(http, logprobs=True, top_logprobs=3).json()["choices"][0]["logprobs"]["content"]
    assert "".join(e["token"] for e in entries) == ANSWER
    by_token = {e["token"].strip(): e for e in entries}
    tag = by_token["proud"]
    assert [t["token"] for t in tag["top_logprobs"]] == [t for t, _p in native["emotion_top"]]
    assert math.exp(tag["logprob"]) == pytest.approx(native["emotion_top"][0][1], abs=1e-3)
    yes = by_token["yes"]
    assert math.exp(yes["logprob"]) == pytest.approx(native["celebrate_p"], abs=1e-3)
    assert {t["token"] for t in yes["top_logprobs"]} == {"yes", "no"}
    assert by_token["{"]["logprob"] == 0.0 and by_token["{"]["bytes"] == [123]


def test_logprobs_without_top_logprobs_list_no_alternatives(http):
    entries = chat(http, logprobs=True).json()["choices"][0]["logprobs"]["content"]
    assert all(e["top_logprobs"] == [] for e in entries)


@pytest.mark.parametrize("options", [
    {"response_format": {"type": "json_object"}},
    {"response_format": {"type": "text"}},
    {"response_format": {"type": "json_schema", "json_schema": {"name": "tag", "strict": True,
                                                                "schema": TAG_SCHEMA}}},
    {"guided_json": TAG_SCHEMA},
    {"guided_json": json.dumps(TAG_SCHEMA), "guided_decoding_backend": "xgrammar"},
    {"structured_outputs": {"json": TAG_SCHEMA}},
    {"structured_outputs": {"json_object": True}},
    {"tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "none"},
    {"tool_choice": "none", "parallel_tool_calls": False},
    {"temperature": 0.7, "top_p": 0.9, "seed": 1, "presence_penalty": 0.1, "frequency_penalty": 0.1,
     "logit_bias": {"1": 2}, "user": "robot-7", "metadata": {"a": "b"}, "store": False,
     "modalities": ["text"], "top_k": 5, "repetition_penalty": 1.1},
])
def test_accepted_options_answer_the_tag(http, options):
    r = chat(http, **options)
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == ANSWER


@pytest.mark.parametrize("options, param, words", [
    ({"n": 0}, "n", "between 1 and 16"),
    ({"n": 2.5}, "n", "integer"),
    ({"max_tokens": 0}, "max_tokens", "at least 1"),
    ({"max_completion_tokens": "5"}, "max_completion_tokens", "integer"),
    ({"logprobs": "yes"}, "logprobs", "true or false"),
    ({"top_logprobs": 2}, "top_logprobs", '"logprobs": true'),
    ({"logprobs": True, "top_logprobs": 21}, "top_logprobs", "between 0 and 20"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "at most 4"),
    ({"stop": [""]}, "stop", "non-empty"),
    ({"stream_options": {"include_usage": True}}, "stream_options", '"stream": true'),
    ({"response_format": {"type": "json_schema", "json_schema": {
        "name": "x", "schema": {"type": "object", "required": ["answer"]}}}},
     "response_format.json_schema.schema", "'answer' is a required property"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {
        "type": "object", "properties": {"emotion_name": {"enum": ["happy", "sad"]}}}}}},
     "response_format.json_schema.schema", "13 tags"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}},
     "response_format.json_schema", "schema"),
    ({"response_format": {"type": "yaml"}}, "response_format.type", "json_schema"),
    ({"guided_json": {"type": "array"}}, "guided_json", "would not satisfy"),
    ({"guided_json": {"type": 7}}, "guided_json", "not a valid JSON schema"),
    ({"guided_regex": "a+"}, "guided_regex", "not supported"),
    ({"guided_choice": ["yes", "no"]}, "guided_choice", "not supported"),
    ({"guided_grammar": "root ::= x"}, "guided_grammar", "not supported"),
    ({"structured_outputs": {"choice": ["a"]}}, "structured_outputs.choice", "not supported"),
    ({"structured_outputs": {"json": {"type": "string"}}}, "structured_outputs.json", "satisfy"),
    ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools", "not supported"),
    ({"tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "required"},
     "tools", "tool_choice"),
    ({"tool_choice": "auto"}, "tool_choice", "needs \"tools\""),
    ({"tool_choice": "sometimes"}, "tool_choice", "expected"),
    ({"functions": [{"name": "f"}]}, "functions", "not supported"),
    ({"echo": True}, "echo", "not supported"),
    ({"modalities": ["text", "audio"]}, "modalities", "only text"),
])
def test_unusable_options_are_refused_naming_the_field(http, options, param, words):
    r = chat(http, **options)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["param"] == param and error["type"] == "invalid_request_error"
    assert error["message"].startswith(param) and words in error["message"]


@pytest.mark.parametrize("options, field", [({"max_tokens": True}, "max_tokens"),
                                            ({"stream": "yes"}, "stream")])
def test_typed_fields_are_strict(http, options, field):
    r = chat(http, **options)
    assert r.status_code == 422 and r.json()["error"]["param"] == field


def test_logprob_tokens_spell_the_content_when_a_stop_string_cuts_a_token(http):
    (choice,) = chat(http, stop="oud", logprobs=True).json()["choices"]
    assert choice["message"]["content"] == '{"emotion_name": "pr'
    assert "".join(e["token"] for e in choice["logprobs"]["content"]) == choice["message"]["content"]
