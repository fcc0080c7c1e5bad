"""Server-sent events for `"stream": true`, as vLLM and OpenAI send them: one
`data: <chat.completion.chunk JSON>` event per chunk, then `data: [DONE]`.

The tag is computed before the stream starts (a few ms), so every error is still an ordinary
JSON error response; the stream itself cannot fail half-way.
"""

from __future__ import annotations

import json

from fastapi.responses import StreamingResponse

from mood_tagger.serving.chat_output import Completion

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def sse_events(completion: Completion):
    for chunk in completion.chunks():
        yield f"data: {json.dumps(chunk, ensure_ascii=False, separators=(',', ':'))}\n\n"
    yield "data: [DONE]\n\n"


def stream_response(completion: Completion) -> StreamingResponse:
    return StreamingResponse(sse_events(completion), media_type="text/event-stream",
                             headers=SSE_HEADERS)
