"""One backend for every OpenAI-compatible server: vLLM, TensorRT-LLM, SGLang, llama.cpp, Ollama.

Only the way the output is forced differs between servers; `output_constraint` holds that
table. Every reply is validated (mood_tagger.backends.prompt), and upstream failures are
translated in one place (`_upstream_errors`) into UpstreamTimeout / UpstreamHTTPError /
UpstreamInvalidOutput.

How each dialect forces the answer (docs checked for each):

  dialect   json mode                                one-token mode
  vllm      structured_outputs.json  (vLLM ≥ 0.10.2; the guided_* fields were removed in 0.12)
                                                     structured_outputs.choice, 26 labels
            https://docs.vllm.ai/en/latest/features/structured_outputs/
  trtllm    response_format json_schema              response_format {"type": "regex"}
            https://nvidia.github.io/TensorRT-LLM/features/guided-decoding.html
            (trtllm-serve rejects unknown request fields, so nothing vLLM-specific is sent)
  sglang    response_format json_schema              top-level "regex" extra parameter
            https://docs.sglang.io/advanced_features/structured_outputs.html
  llamacpp  response_format json_schema              response_format json_schema, string enum
            https://github.com/ggml-org/llama.cpp/blob/master/tools/server/README.md
  ollama    response_format json_schema              response_format json_schema, string enum
            https://docs.ollama.com/api/openai-compatibility (grammar-enforced since v0.5)
  openai    response_format json_schema (strict)     cannot force a bare choice: max_tokens 1,
            https://platform.openai.com/docs/api-reference/chat   top_logprobs 20 over the
                                                     26 one-letter label codes
"""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import contextmanager

import httpx

from mood_tagger.backends import prompt
from mood_tagger.backends.base import Backend, TagResult, register
from mood_tagger.data.schema import Exchange
from mood_tagger.errors import InputError, UpstreamHTTPError, UpstreamInvalidOutput, UpstreamTimeout

DIALECTS = ("vllm", "trtllm", "sglang", "llamacpp", "ollama", "openai")
MODES = ("json", "one-token")
MAX_BODY_BYTES = 256 * 1024         # a reply of ~15 tokens never needs more
_LIMITS = httpx.Limits(max_connections=64, max_keepalive_connections=32, keepalive_expiry=30.0)


def output_constraint(dialect: str, mode: str) -> tuple[dict, str, int]:
    """(request fields forcing the output, answer shape of prompt and reply, max_tokens)."""
    if mode == "json":
        if dialect == "vllm":
            return {"structured_outputs": {"json": prompt.EMOTION_SCHEMA}}, "json", 32
        return {"response_format": {"type": "json_schema", "json_schema": {
            "name": "mood_tag", "strict": True, "schema": prompt.EMOTION_SCHEMA}}}, "json", 32
    if dialect == "vllm":
        return {"structured_outputs": {"choice": list(prompt.COMBINED_LABELS)}}, "label", 8
    if dialect == "trtllm":
        return {"response_format": {"type": "regex", "regex": prompt.LABEL_REGEX}}, "label", 8
    if dialect == "sglang":
        return {"regex": prompt.LABEL_REGEX}, "label", 8
    if dialect in ("llamacpp", "ollama"):
        return {"response_format": {"type": "json_schema", "json_schema": {
            "name": "mood_label", "schema": prompt.LABEL_SCHEMA}}}, "quoted_label", 12
    return {"logprobs": True, "top_logprobs": 20}, "code", 1


@contextmanager
def _upstream_errors(url: str, timeout_ms: float):
    """The one place where transport and HTTP failures become mood-tagger errors."""
    try:
        yield
    except (httpx.TimeoutException, asyncio.TimeoutError) as exc:
        raise UpstreamTimeout(f"{url}: no answer within {timeout_ms:.0f} ms; raise --llm-timeout-ms "
                              "(or the deadline) or check the LLM server's load") from exc
    except httpx.HTTPStatusError as exc:
        body = exc.response.text[:200]     # both paths read the body before raising
        raise UpstreamHTTPError(f"{url}: HTTP {exc.response.status_code} {body!r}; check "
                                "--llm-model, --llm-api-key and the server log") from exc
    except httpx.TransportError as exc:
        raise UpstreamHTTPError(f"{url}: {type(exc).__name__} ({exc}); is the LLM server running "
                                "at --llm-base-url?") from exc


@register("openai")
class OpenAICompatBackend(Backend):
    def __init__(self, base_url: str, model: str, *, api_key: str | None = None,
                 dialect: str = "vllm", mode: str = "json", timeout_ms: float = 1000.0):
        if dialect not in DIALECTS:
            raise InputError(f"LLM dialect {dialect!r}; expected one of {list(DIALECTS)} "
                             "(--llm-dialect or MOOD_TAGGER_LLM_DIALECT)")
        if mode not in MODES:
            raise InputError(f"LLM mode {mode!r}; expected one of {list(MODES)} "
                             "(--llm-mode or MOOD_TAGGER_LLM_MODE)")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model, self.dialect, self.mode, self.timeout_ms = model, dialect, mode, timeout_ms
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.constraint, self.reply_kind, self.max_tokens = output_constraint(dialect, mode)
        self.system_prompt = prompt.system_prompt(
            "label" if self.reply_kind == "quoted_label" else self.reply_kind)
        # Built once here: creating an SSL context costs ~20 ms, more than a whole deadline.
        self._ssl = httpx.create_ssl_context()
        self._client: httpx.Client | None = None
        self._aclient: httpx.AsyncClient | None = None
        self._aloop: asyncio.AbstractEventLoop | None = None
        self._sync_client()

    @classmethod
    def from_settings(cls, settings) -> "OpenAICompatBackend":
        return cls(settings.llm_base_url, settings.llm_model, api_key=settings.llm_api_key,
                   dialect=settings.llm_dialect, mode=settings.llm_mode,
                   timeout_ms=settings.llm_timeout_ms)

    @property
    def model_name(self) -> str:
        return self.model

    # ----- request and reply ------------------------------------------------------------------
    def request_body(self, exchange: Exchange) -> dict:
        return {"model": self.model,
                "messages": [{"role": "system", "content": self.system_prompt},
                             {"role": "user", "content": prompt.build_user_content(exchange)}],
                "temperature": 0, "max_tokens": self.max_tokens, "stream": False,
                **self.constraint}

    def _timeout_ms(self, deadline_ms: float | None) -> float:
        timeout = self.timeout_ms if deadline_ms is None else min(self.timeout_ms, deadline_ms)
        if timeout <= 0:
            raise UpstreamTimeout(f"{self.url}: no time left for the LLM (deadline {deadline_ms} ms)")
        return timeout

    def _result(self, raw: bytes, start: float) -> TagResult:
        try:
            choice = json.loads(raw)["choices"][0]
            content = choice["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise UpstreamInvalidOutput(f"{self.url}: not an OpenAI chat completion "
                                        f"({raw[:120]!r}); is --llm-base-url the /v1 root?") from exc
        celebrate_p = None
        if self.reply_kind == "code":
            try:
                top = choice["logprobs"]["content"][0]["top_logprobs"]
            except (KeyError, IndexError, TypeError) as exc:
                raise UpstreamInvalidOutput(f"{self.url}: no top_logprobs in the reply; use "
                                            "--llm-mode json with this server") from exc
            emotion_top, celebrate_p = prompt.parse_code_logprobs(top)
            emotion, celebrate = emotion_top[0][0], "yes" if celebrate_p >= 0.5 else "no"
        else:
            if self.reply_kind == "json":
                emotion, celebrate = prompt.parse_json_reply(content)
            else:
                emotion, celebrate = prompt.parse_label_reply(
                    content, quoted=self.reply_kind == "quoted_label")
            emotion_top = [(emotion, 1.0)]
        return TagResult(emotion_name=emotion, celebrate=celebrate, emotion_top=emotion_top,
                         celebrate_p=celebrate_p, model=self.model, backend="openai", reason="llm",
                         latency_ms=(time.perf_counter() - start) * 1000)

    def _check_size(self, size: int, end: float) -> None:
        if size > MAX_BODY_BYTES:
            raise UpstreamInvalidOutput(f"{self.url}: reply larger than {MAX_BODY_BYTES} bytes")
        if time.perf_counter() > end:       # a server trickling bytes still meets the deadline
            raise httpx.ReadTimeout("reply not complete before the deadline")

    # ----- sync path --------------------------------------------------------------------------
    def _sync_client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(headers=self.headers, limits=_LIMITS, verify=self._ssl)
        return self._client

    def tag(self, exchange: Exchange, deadline_ms: float | None = None) -> TagResult:
        start = time.perf_counter()
        timeout_ms = self._timeout_ms(deadline_ms)
        end = start + timeout_ms / 1000
        with _upstream_errors(self.url, timeout_ms):
            with self._sync_client().stream("POST", self.url, json=self.request_body(exchange),
                                            timeout=timeout_ms / 1000) as response:
                if not response.is_success:
                    response.read()
                    response.raise_for_status()
                raw = bytearray()
                for chunk in response.iter_bytes():
                    raw += chunk
                    self._check_size(len(raw), end)
        return self._result(bytes(raw), start)

    # ----- async path -------------------------------------------------------------------------
    def _async_client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._aclient is None or self._aloop is not loop:
            self._aclient = httpx.AsyncClient(headers=self.headers, limits=_LIMITS, verify=self._ssl)
            self._aloop = loop
        return self._aclient

    async def _apost(self, exchange: Exchange, timeout_ms: float, end: float) -> bytes:
        client = self._async_client()
        async with client.stream("POST", self.url, json=self.request_body(exchange),
                                 timeout=timeout_ms / 1000) as response:
            if not response.is_success:
                await response.aread()
                response.raise_for_status()
            raw = bytearray()
            async for chunk in response.aiter_bytes():
                raw += chunk
                self._check_size(len(raw), end)
        return bytes(raw)

    async def atag(self, exchange: Exchange, deadline_ms: float | None = None) -> TagResult:
        start = time.perf_counter()
        timeout_ms = self._timeout_ms(deadline_ms)
        with _upstream_errors(self.url, timeout_ms):
            raw = await asyncio.wait_for(self._apost(exchange, timeout_ms, start + timeout_ms / 1000),
                                         timeout=timeout_ms / 1000)
        return self._result(raw, start)

    # ----- connections ------------------------------------------------------------------------
    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        if self._aclient is not None:
            await self._aclient.aclose()
            self._aclient = self._aloop = None
