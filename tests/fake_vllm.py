"""A real HTTP upstream that speaks the OpenAI chat-completions API the way vLLM does.

It runs in a thread on port 0 (http.server, HTTP/1.1 keep-alive) and can be scripted per test:

    fake.behaviour = "ok"          answer, derived from the request (see `answer_for`)
                     "slow"        sleep `fake.delay_s`, then answer
                     "http500"     HTTP 500 with an OpenAI-style error body
                     "malformed"   HTTP 200 whose content is prose, not the forced format
                     "invalid_tag" HTTP 200 with a well-formed answer holding an unknown tag
                     "obey"        a model that follows a prompt injection: it answers with
                                   the child's message verbatim
                     "trickle"     waits `fake.trickle_after_s` (0), sends the headers, then
                                   the body one byte per `fake.trickle_every_s` (10 ms)
                     "bad_gzip"    HTTP 200 with "Content-Encoding: gzip" and a body that is not
                                   gzip (the client fails to decode it)
                     "hang"        never answers (until the test ends)
                     "close"       closes the connection without a response
                     "reset"       reads the request, then resets the connection (TCP RST)
                     "huge"        HTTP 200 whose body is `fake.huge_bytes` (1 MB) of JSON
    or a callable(body) -> one of these names, to script per request.
    fake.label = ("proud", "yes") or a callable(body) -> (emotion, celebrate)

The answer takes the shape that the request forces, as the real servers do: a JSON object for
a JSON schema, one of the offered `choice`s, the string matching a `regex` (vLLM / TensorRT-LLM
/ SGLang) or a llama.cpp `grammar` of one character class, or one token with top_logprobs.

Every request body is recorded in `fake.requests`, the client (host, port) in `fake.clients`,
the most requests seen in flight at once in `fake.max_in_flight`.
"""

from __future__ import annotations

import json
import math
import re
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from mood_tagger.backends.prompt import CODE_OF, COMBINED_LABELS

BEHAVIOURS = ("ok", "slow", "http500", "malformed", "invalid_tag", "obey", "trickle", "bad_gzip",
              "hang", "close", "reset", "huge")


def child_message(body: dict) -> str:
    """The user_last_message of the [CONTEXT] block, decoded back from its JSON literal."""
    for line in body["messages"][-1]["content"].splitlines():
        if line.startswith("user_last_message: "):
            return json.loads(line[len("user_last_message: "):])
    raise AssertionError("no user_last_message line in the user content")


def _forced(candidates: tuple[str, ...], matches) -> str:
    """The first candidate answer that the request's constraint allows (a real server would
    only be able to produce allowed strings)."""
    allowed = [c for c in candidates if matches(c)]
    assert allowed, f"none of {candidates} is allowed by the request's constraint"
    return allowed[0]


def answer_for(body: dict, emotion: str, celebrate: str) -> tuple[str, dict | None]:
    """(content, logprobs) in the format that the request forces, as the real server would."""
    label = f"{emotion}|{celebrate}"
    code = CODE_OF[label]
    as_json = json.dumps({"emotion_name": emotion, "celebrate": celebrate})
    structured = body.get("structured_outputs") or {}
    response_format = body.get("response_format") or {}
    regex = response_format.get("regex") if response_format.get("type") == "regex" else body.get("regex")
    grammar = re.fullmatch(r"root ::= (\[[^\]]+\])", body.get("grammar") or "")
    if "choice" in structured:
        return _forced((code, label), structured["choice"].__contains__), None
    if "json" in structured:
        return as_json, None
    if regex is not None:
        return _forced((code, label), lambda c: re.fullmatch(regex, c) is not None), None
    if "grammar" in body:
        assert grammar, f"the fake only knows one-character-class grammars, not {body['grammar']!r}"
        return _forced((code,), lambda c: re.fullmatch(grammar[1], c) is not None), None
    if response_format.get("type") == "json_schema":
        assert response_format["json_schema"]["schema"]["type"] == "object"
        return as_json, None
    if body.get("logprobs") and body.get("max_tokens") == 1:
        other = CODE_OF[f"{emotion}|{'no' if celebrate == 'yes' else 'yes'}"]
        top = [{"token": code, "logprob": math.log(0.7)}, {"token": " " + other, "logprob": math.log(0.2)},
               {"token": "The", "logprob": math.log(0.1)}]
        return code, {"content": [{"token": code, "logprob": math.log(0.7), "top_logprobs": top}]}
    return as_json, None


class FakeVLLM:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.clients: list[tuple[str, int]] = []
        self.behaviour: object = "ok"
        self.label: object = ("proud", "yes")
        self.delay_s = 0.3
        self.trickle_after_s, self.trickle_every_s = 0.0, 0.01
        self.huge_bytes = 1024 * 1024
        self.max_in_flight = 0
        self._in_flight = 0
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.handle_error = lambda request, address: None   # resets are the point
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> "FakeVLLM":
        self._thread.start()
        return self

    def reset(self) -> None:
        """Back to answering correctly; hanging handlers of the previous test are let go."""
        self._release.set()
        self._release = threading.Event()
        with self._lock:
            self.requests.clear()
            self.clients.clear()
            self.max_in_flight = 0
        self.behaviour, self.label, self.delay_s = "ok", ("proud", "yes"), 0.3
        self.trickle_after_s, self.trickle_every_s = 0.0, 0.01

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # ----- the request handler ----------------------------------------------------------------
    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"       # keep-alive, as vLLM's uvicorn does
            disable_nagle_algorithm = True      # headers and body leave at once, no 40 ms ACK wait

            def log_message(self, *args) -> None:  # quiet
                pass

            def _send(self, status: int, obj: dict, trickle: threading.Event | None = None,
                      headers: tuple[tuple[str, str], ...] = ()) -> None:
                data = json.dumps(obj, ensure_ascii=False).encode("utf-8")
                if trickle is not None and trickle.wait(timeout=fake.trickle_after_s):
                    self.close_connection = True
                    return
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if trickle is None:
                    self.wfile.write(data)
                    return
                self.close_connection = True
                for i in range(len(data)):
                    if trickle.wait(timeout=fake.trickle_every_s):
                        break
                    try:
                        self.wfile.write(data[i:i + 1])
                    except (BrokenPipeError, ConnectionResetError):    # the client gave up
                        break

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with fake._lock:
                    fake.requests.append(body | {"_authorization": self.headers.get("Authorization")})
                    fake.clients.append(self.client_address)
                    fake._in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake._in_flight)
                try:
                    self._answer(body, fake._release)
                finally:
                    with fake._lock:
                        fake._in_flight -= 1

            def _answer(self, body: dict, release: threading.Event) -> None:
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"object": "error", "message": f"no route {self.path}",
                                            "type": "NotFoundError", "code": 404})
                if not body.get("model") or not body.get("messages"):
                    return self._send(400, {"object": "error", "message": "model and messages are required",
                                            "type": "BadRequestError", "code": 400})
                behaviour = fake.behaviour(body) if callable(fake.behaviour) else fake.behaviour
                assert behaviour in BEHAVIOURS, behaviour
                if behaviour == "hang":
                    release.wait(timeout=10)
                    self.close_connection = True
                    return
                if behaviour == "close":
                    self.close_connection = True
                    return
                if behaviour == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               struct.pack("ii", 1, 0))
                    self.close_connection = True
                    return
                if behaviour == "huge":
                    return self._send(200, {"id": "chatcmpl-fake", "pad": "x" * fake.huge_bytes})
                if behaviour == "http500":
                    return self._send(500, {"object": "error", "message": "EngineCore died",
                                            "type": "InternalServerError", "code": 500})
                if behaviour == "slow":
                    release.wait(timeout=fake.delay_s)
                emotion, celebrate = fake.label(body) if callable(fake.label) else fake.label
                content, logprobs = answer_for(body, emotion, celebrate)
                if behaviour == "malformed":
                    content, logprobs = "I think Pika is happy here!", None
                elif behaviour == "invalid_tag":
                    content = json.dumps({"emotion_name": "angry", "celebrate": "yes"})
                elif behaviour == "obey":
                    content = child_message(body)
                gzip = (("Content-Encoding", "gzip"),) if behaviour == "bad_gzip" else ()
                self._send(200, trickle=release if behaviour == "trickle" else None, headers=gzip, obj={
                    "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                    "model": body["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                 "logprobs": logprobs, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 900, "completion_tokens": 12, "total_tokens": 912}})

        return Handler


assert len(COMBINED_LABELS) == 26
