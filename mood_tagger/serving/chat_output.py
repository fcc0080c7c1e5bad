"""The chat completion our tag becomes: the answer JSON, cut into tokens as an LLM would
write it, stopped by `stop` or `max_tokens`, with the tag probabilities as logprobs.

Tokens: each word (\\w+) or punctuation mark with the whitespace before it, so
'{"emotion_name": "proud", "celebrate": "yes"}' is 17 tokens and the tag and the yes/no are
one token each. Logprobs: the tag token carries log P(tag) and, as top_logprobs, the
backend's top tags (at most 3); the yes/no token log P(yes) or log P(no) (the choice itself
follows the calibrated threshold, so it can be the less probable one); every other token is
fixed by the format: logprob 0.0. Without probabilities from the backend, 0.0 as well.
"""

from __future__ import annotations

import json
import math
import re
import time
import uuid
from dataclasses import dataclass

from mood_tagger import __version__
from mood_tagger.serving.chat_params import ChatOptions

_TOKEN = re.compile(r"\s*(?:\w+|[^\w\s])")


@dataclass(slots=True)
class Generation:
    tokens: list[str]              # the text of each token written, the last one maybe cut
    logprobs: list[dict]           # one OpenAI ChatCompletionTokenLogprob per token
    finish_reason: str             # "stop" or "length"
    stop_reason: str | None = None  # the stop string that ended it (vLLM's field)

    @property
    def content(self) -> str:
        return "".join(self.tokens)


def answer_json(result: dict) -> str:
    return json.dumps({"emotion_name": result["emotion_name"], "celebrate": result["celebrate"]},
                      ensure_ascii=False)


def _logprob(p: float) -> float:
    return max(math.log(p), -9999.0) if p > 0 else -9999.0


def _entry(token: str, logprob: float, top: list[tuple[str, float]]) -> dict:
    def one(t, lp):
        return {"token": t, "logprob": lp, "bytes": list(t.encode("utf-8"))}
    return {**one(token, logprob), "top_logprobs": [one(t, lp) for t, lp in top]}


def token_logprobs(tokens: list[str], result: dict, top_k: int) -> list[dict]:
    emotions = {t: float(p) for t, p in result.get("emotion_top") or []}
    p_yes = result.get("celebrate_p")
    out, fields_seen = [], 0
    for token in tokens:
        word = token.strip()
        alternatives: list[tuple[str, float]] = [(token, 0.0)]
        if word == result["emotion_name"] and fields_seen == 1 and word in emotions:
            alternatives = [(token.replace(word, t), _logprob(p)) for t, p in emotions.items()]
            alternatives.sort(key=lambda a: -a[1])
        elif word == result["celebrate"] and fields_seen == 2 and p_yes is not None:
            alternatives = sorted([(token.replace(word, "yes"), _logprob(p_yes)),
                                   (token.replace(word, "no"), _logprob(1.0 - p_yes))],
                                  key=lambda a: -a[1])
        if word in ("emotion_name", "celebrate"):
            fields_seen += 1
        mine = next(lp for t, lp in alternatives if t == token)
        out.append(_entry(token, mine, alternatives[:top_k]))
    return out


def generate(result: dict, options: ChatOptions) -> Generation:
    """Write the answer token by token until it ends, a stop string appears or max_tokens."""
    all_tokens = _TOKEN.findall(answer_json(result))
    probs = token_logprobs(all_tokens, result, options.top_logprobs)
    text = ""
    for i, token in enumerate(all_tokens):
        before, text = text, text + token
        hits = [(text.find(s, max(0, len(before) - len(s) + 1)), s) for s in options.stop]
        hits = [(pos, s) for pos, s in hits if pos >= 0]
        if hits:
            pos, stop = min(hits)
            tokens = _cut(all_tokens[:i + 1], pos + len(stop) if options.include_stop else pos)
            kept = probs[:len(tokens)]
            if tokens and tokens[-1] != all_tokens[len(tokens) - 1]:    # the last one was cut
                kept[-1] = {**kept[-1], "token": tokens[-1], "bytes": list(tokens[-1].encode("utf-8"))}
            return Generation(tokens, kept, "stop", stop)
        if options.max_tokens is not None and i + 1 >= options.max_tokens and i + 1 < len(all_tokens):
            return Generation(all_tokens[:i + 1], probs[:i + 1], "length")
    return Generation(all_tokens, probs, "stop")


def _cut(tokens: list[str], length: int) -> list[str]:
    """The tokens that make up the first `length` characters, the last one trimmed."""
    out, used = [], 0
    for token in tokens:
        if used >= length:
            break
        out.append(token[:length - used])
        used += len(out[-1])
    return out


def usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


@dataclass(slots=True)
class Completion:
    """One request's answer: n identical generations (the tagger is deterministic)."""

    model: str
    generation: Generation
    options: ChatOptions
    prompt_tokens: int
    extra: dict
    id: str = ""
    created: int = 0

    def __post_init__(self):
        self.id = self.id or f"chatcmpl-{uuid.uuid4().hex[:24]}"
        self.created = self.created or int(time.time())

    def _head(self, kind: str) -> dict:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model,
                "system_fingerprint": f"mood-tagger-{__version__}"}

    def _logprobs(self, entries: list[dict]) -> dict | None:
        return {"content": entries, "refusal": None} if self.options.logprobs else None

    @property
    def completion_tokens(self) -> int:
        return len(self.generation.tokens) * self.options.n

    def response(self) -> dict:
        """The chat.completion object."""
        g = self.generation
        choices = [{"index": i, "message": {"role": "assistant", "content": g.content,
                                            "refusal": None},
                    "logprobs": self._logprobs(g.logprobs), "finish_reason": g.finish_reason,
                    "stop_reason": g.stop_reason} for i in range(self.options.n)]
        return {**self._head("chat.completion"), "choices": choices,
                "usage": usage(self.prompt_tokens, self.completion_tokens), "mood_tagger": self.extra}

    def chunks(self):
        """The chat.completion.chunk objects of a stream: per choice a role chunk, one content
        chunk per token and a finish chunk; then a usage chunk when asked for."""
        g, opts = self.generation, self.options
        with_usage = opts.include_usage

        def chunk(choice: dict | None, written: int) -> dict:
            out = {**self._head("chat.completion.chunk"), "choices": [choice] if choice else []}
            if with_usage:
                out["usage"] = (usage(self.prompt_tokens, written) if opts.continuous_usage
                                else None)
            return out

        for i in range(opts.n):
            yield chunk({"index": i, "delta": {"role": "assistant", "content": ""},
                         "logprobs": None, "finish_reason": None}, 0)
            for k, token in enumerate(g.tokens):
                yield chunk({"index": i, "delta": {"content": token},
                             "logprobs": self._logprobs([g.logprobs[k]]), "finish_reason": None},
                            k + 1)
            yield chunk({"index": i, "delta": {}, "logprobs": None,
                         "finish_reason": g.finish_reason, "stop_reason": g.stop_reason},
                        len(g.tokens))
        if with_usage:
            yield {**self._head("chat.completion.chunk"), "choices": [],
                   "usage": usage(self.prompt_tokens, self.completion_tokens),
                   "mood_tagger": self.extra}
