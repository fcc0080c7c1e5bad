"""Streaming chat completions against a real server, read by clients nobody here wrote:
the openai SDK (sync and async), langchain-openai, and raw SSE over httpx."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from mood_tagger.labels import EMOTION_TAGS
from mood_tagger.serving.app import create_app
from mood_tagger.serving.server import ThreadedServer
from mood_tagger.settings import Settings
from tests.service_helpers import shipped_backend

CONTEXT = ('[CONTEXT]\nuser_last_message: "Dạ, con voi ăn cỏ ạ."\n'
           'pika_response: "Đúng rồi, con giỏi lắm!"\n[OUTPUT]\n')
MESSAGES = [{"role": "system", "content": "You are a tagger"}, {"role": "user", "content": CONTEXT}]


@pytest.fixture(scope="module")
def server():
    with ThreadedServer(create_app(Settings(), backend=shipped_backend())) as srv:
        yield srv


def sse_events(server, **body) -> list:
    """The raw `data:` payloads of one streamed request, in order."""
    with httpx.Client(base_url=server.url) as http, http.stream(
            "POST", "/v1/chat/completions", json={"messages": MESSAGES, "stream": True, **body}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    return [line[6:] for line in lines]


def test_sse_is_role_chunk_content_chunks_finish_chunk_done(server):
    events = sse_events(server)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert deltas[-1] == {} and chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert len(deltas) > 3 and all(set(d) == {"content"} for d in deltas[1:-1])
    answer = json.loads("".join(d["content"] for d in deltas[1:-1]))
    assert answer == {"emotion_name": "proud", "celebrate": "yes"}
    assert all("usage" not in c for c in chunks)          # only with include_usage


def test_stream_is_the_same_answer_as_the_plain_completion(server):
    plain = httpx.post(f"{server.url}/v1/chat/completions", json={"messages": MESSAGES}).json()
    chunks = [json.loads(e) for e in sse_events(server)[:-1]]
    streamed = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert streamed == plain["choices"][0]["message"]["content"]


def test_include_usage_adds_a_last_chunk_with_usage_and_no_choices(server):
    chunks = [json.loads(e) for e in sse_events(server, stream_options={"include_usage": True})[:-1]]
    assert all(c["usage"] is None for c in chunks[:-1])
    last = chunks[-1]
    assert last["choices"] == [] and last["usage"]["completion_tokens"] == len(chunks) - 3
    assert last["usage"]["total_tokens"] == last["usage"]["prompt_tokens"] + 17


def test_stream_with_n_and_max_tokens(server):
    chunks = [json.loads(e) for e in sse_events(server, n=2, max_tokens=5)[:-1]]
    for index in (0, 1):
        mine = [c["choices"][0] for c in chunks if c["choices"][0]["index"] == index]
        assert "".join(c["delta"].get("content", "") for c in mine) == '{"emotion_name":'
        assert mine[-1]["finish_reason"] == "length"


def test_stream_refusals_are_plain_json_errors(server):
    r = httpx.post(f"{server.url}/v1/chat/completions",
                   json={"messages": MESSAGES, "stream": True, "tools": [{"type": "function"}]})
    assert r.status_code == 400 and r.json()["error"]["param"] == "tools"


def test_openai_sdk_sync_stream(server):
    from openai import OpenAI

    client = OpenAI(base_url=f"{server.url}/v1", api_key="unused")
    stream = client.chat.completions.create(model="microsoft/Phi-3-mini-4k-instruct", messages=MESSAGES,
                                            stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert json.loads(text)["celebrate"] == "yes"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage.completion_tokens == 17
    assert chunks[0].model == "microsoft/Phi-3-mini-4k-instruct"


def test_openai_sdk_async_stream_with_logprobs(server):
    from openai import AsyncOpenAI

    async def run():
        async with AsyncOpenAI(base_url=f"{server.url}/v1", api_key="unused") as client:
            stream = await client.chat.completions.create(
                model="m", messages=MESSAGES, stream=True, logprobs=True, top_logprobs=2)
            return [c async for c in stream]

    chunks = asyncio.run(run())
    content = [c for c in chunks if c.choices and c.choices[0].delta.content]
    tokens = [t for c in content for t in c.choices[0].logprobs.content]
    assert "".join(t.token for t in tokens) == '{"emotion_name": "proud", "celebrate": "yes"}'
    tag = next(t for t in tokens if t.token == "proud")
    assert tag.logprob < 0 and len(tag.top_logprobs) == 2
    assert {t.token for t in tag.top_logprobs} <= set(EMOTION_TAGS)


def test_langchain_openai_stream_and_invoke(server):
    langchain_openai = pytest.importorskip("langchain_openai")

    llm = langchain_openai.ChatOpenAI(base_url=f"{server.url}/v1", api_key="unused",
                                      model="microsoft/Phi-3-mini-4k-instruct", temperature=0)
    pieces = [chunk.content for chunk in llm.stream(MESSAGES)]
    assert len(pieces) > 3
    assert json.loads("".join(pieces)) == {"emotion_name": "proud", "celebrate": "yes"}
    assert json.loads(llm.invoke(MESSAGES).content)["celebrate"] == "yes"
