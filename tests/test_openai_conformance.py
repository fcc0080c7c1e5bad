"""Our OpenAI-compatible answers against the public OpenAI OpenAPI specification: the
component schemas of the routes we offer, brought in as tests/data/openai-chat-schemas.json
(scripts/extract_openai_schemas.py), checked with jsonschema on a real server's answers."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import jsonschema
import pytest

from tests.service_helpers import post_chat, shipped_service_client

SCHEMAS = json.loads((Path(__file__).parent / "data" / "openai-chat-schemas.json").read_text("utf-8"))
CONTEXT = ('[CONTEXT]\nuser_last_message: "Tớ thích màu xanh nhất!"\n'
           'pika_response: "Ồ, màu xanh đẹp thật!"\n[OUTPUT]\n')


def check(name: str, instance) -> None:
    schema = {"$ref": f"#/$defs/{name}", "$defs": SCHEMAS["$defs"]}
    jsonschema.Draft202012Validator(schema).validate(instance)


@pytest.fixture(scope="module")
def http():
    with shipped_service_client() as client:
        yield client


def chat(http, **options) -> httpx.Response:
    return post_chat(http, CONTEXT, **options)


def test_the_schema_file_is_the_spec_and_catches_a_broken_answer():
    assert "openai/openai-openapi" in SCHEMAS["$comment"]
    with pytest.raises(jsonschema.ValidationError):
        check("CreateChatCompletionResponse", {"id": "x", "object": "chat.completion", "choices": []})


@pytest.mark.parametrize("options", [{}, {"n": 2}, {"max_tokens": 3}, {"stop": "no"},
                                     {"logprobs": True, "top_logprobs": 3}])
def test_chat_completion_conforms(http, options):
    r = chat(http, **options)
    assert r.status_code == 200
    check("CreateChatCompletionResponse", r.json())


@pytest.mark.parametrize("options", [{}, {"n": 2, "max_tokens": 4},
                                     {"logprobs": True, "top_logprobs": 2},
                                     {"stream_options": {"include_usage": True}}])
def test_every_stream_chunk_conforms(http, options):
    with http.stream("POST", "/v1/chat/completions", json={
            "messages": [{"role": "user", "content": CONTEXT}], "stream": True, **options}) as r:
        events = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    for event in events[:-1]:
        check("CreateChatCompletionStreamResponse", json.loads(event))


@pytest.mark.parametrize("options", [{"tools": [{"type": "function"}]}, {"n": 99}])
def test_errors_conform(http, options):
    r = chat(http, **options)
    assert r.status_code == 400
    check("ErrorResponse", r.json())


def test_validation_errors_and_model_list_conform(http):
    check("ErrorResponse", http.post("/v1/chat/completions", json={"messages": []}).json())
    check("ListModelsResponse", http.get("/v1/models").json())
