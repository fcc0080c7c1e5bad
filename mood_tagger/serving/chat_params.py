"""The chat-completions request options: each one is honoured or refused with a 400 that
names it (InputError(param=...)), as vLLM's OpenAI-compatible server does.

Honoured: n, max_tokens / max_completion_tokens, stop (+ vLLM's include_stop_str_in_output),
logprobs / top_logprobs, stream / stream_options, response_format (text, json_object, and
json_schema when every answer we can give satisfies it), vLLM's structured_outputs.json /
json_object and guided_json, tool_choice "none". Refused: tools and functions unless the tool
choice is "none", guided_regex / guided_choice / guided_grammar and their structured_outputs
twins, echo, audio output. Sampling options (temperature, top_p, seed, penalties, logit_bias,
user, metadata, …) are accepted and have no effect: the tagger is deterministic.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

from mood_tagger.errors import InputError
from mood_tagger.labels import CELEBRATE_VALUES, EMOTION_TAGS

MAX_N = 16
MAX_TOP_LOGPROBS = 20      # OpenAI's limit
MAX_STOP = 4               # OpenAI's limit
UNSUPPORTED_GUIDES = {"guided_regex": "a regular expression", "guided_choice": "a choice list",
                      "guided_grammar": "a grammar"}
UNSUPPORTED_STRUCTURED = {"regex", "choice", "grammar", "structural_tag"}


@dataclass(frozen=True, slots=True)
class ChatOptions:
    n: int = 1
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    include_stop: bool = False
    logprobs: bool = False
    top_logprobs: int = 0
    stream: bool = False
    include_usage: bool = False
    continuous_usage: bool = False


def _refuse(param: str, why: str) -> InputError:
    return InputError(f"{param}: {why}", param=param)


def _int(body: dict, key: str, low: int, high: int | None = None) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _refuse(key, f"expected an integer, found {json.dumps(value)}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise _refuse(key, f"expected an integer {bound}, found {value}")
    return value


def _bool(body: dict, key: str, where: str | None = None) -> bool:
    value = body.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _refuse(where or key, f"expected true or false, found {json.dumps(value)}")
    return value


@functools.cache
def possible_answers() -> tuple[dict, ...]:
    """Every answer the tagger can give (13 tags × yes/no)."""
    return tuple({"emotion_name": e, "celebrate": c} for e in EMOTION_TAGS for c in CELEBRATE_VALUES)


def check_schema(schema, param: str) -> None:
    """Accept a JSON schema only when every possible answer satisfies it."""
    import jsonschema

    if not isinstance(schema, dict):
        raise _refuse(param, f"expected a JSON schema object, found {json.dumps(schema)[:80]}")
    try:
        validator = jsonschema.validators.validator_for(schema)
        validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise _refuse(param, f"not a valid JSON schema: {exc.message}") from exc
    checker = validator(schema)
    for answer in possible_answers():
        error = jsonschema.exceptions.best_match(checker.iter_errors(answer))
        if error is not None:
            raise _refuse(param, f"the answer {json.dumps(answer)} would not satisfy this schema "
                          f"({error.message}); this service answers only "
                          '{"emotion_name": <one of 13 tags>, "celebrate": "yes"|"no"}')


def _response_format(value) -> None:
    if value is None:
        return
    kind = value.get("type") if isinstance(value, dict) else None
    if kind in ("text", "json_object"):
        return
    if kind == "json_schema":
        spec = value.get("json_schema")
        if not isinstance(spec, dict) or "schema" not in spec:
            raise _refuse("response_format.json_schema", 'expected {"name": ..., "schema": {...}}')
        check_schema(spec["schema"], "response_format.json_schema.schema")
        return
    raise _refuse("response_format.type", f"expected text, json_object or json_schema, found "
                  f"{json.dumps(kind)}")


def _structured(body: dict) -> None:
    for key, what in UNSUPPORTED_GUIDES.items():
        if body.get(key) is not None:
            raise _refuse(key, f"decoding guided by {what} is not supported; the answer is "
                          "always the tag JSON (guided_json or response_format json_schema)")
    if body.get("guided_json") is not None:
        schema = body["guided_json"]
        if isinstance(schema, str):
            try:
                schema = json.loads(schema)
            except ValueError as exc:
                raise _refuse("guided_json", "expected a JSON schema (object or JSON string)") from exc
        check_schema(schema, "guided_json")
    so = body.get("structured_outputs")
    if so is None:
        return
    if not isinstance(so, dict):
        raise _refuse("structured_outputs", f"expected an object, found {json.dumps(so)[:80]}")
    for key in sorted(UNSUPPORTED_STRUCTURED & {k for k, v in so.items() if v is not None}):
        raise _refuse(f"structured_outputs.{key}", "not supported; the answer is always the tag "
                      "JSON (structured_outputs.json with a schema it satisfies)")
    if so.get("json") is not None:
        check_schema(json.loads(so["json"]) if isinstance(so["json"], str) else so["json"],
                     "structured_outputs.json")


def _tools(body: dict) -> None:
    choice = body.get("tool_choice")
    if choice not in (None, "none", "auto", "required") and not isinstance(choice, dict):
        raise _refuse("tool_choice", f'expected "none", "auto", "required" or a named tool, found '
                      f"{json.dumps(choice)}")
    if choice not in (None, "none") and not body.get("tools"):
        raise _refuse("tool_choice", 'a tool choice needs "tools"; this service calls no tools')
    if body.get("tools") and choice != "none":
        raise _refuse("tools", 'tool calling is not supported; leave out "tools" or send '
                      '"tool_choice": "none"')
    if body.get("functions") and body.get("function_call") != "none":
        raise _refuse("functions", 'function calling is not supported; leave out "functions"')


def _stop(value) -> tuple[str, ...]:
    if value is None:
        return ()
    stops = [value] if isinstance(value, str) else value
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
        raise _refuse("stop", "expected a non-empty string or a list of them")
    if len(stops) > MAX_STOP:
        raise _refuse("stop", f"at most {MAX_STOP} stop sequences, found {len(stops)}")
    return tuple(stops)


def parse_options(body: dict) -> ChatOptions:
    """Check every option of a chat request body; the first unusable one raises InputError."""
    n = _int(body, "n", 1, MAX_N) or 1
    limits = [(k, _int(body, k, 1)) for k in ("max_completion_tokens", "max_tokens")]
    max_tokens = next((v for _k, v in limits if v is not None), None)
    logprobs = _bool(body, "logprobs")
    top = _int(body, "top_logprobs", 0, MAX_TOP_LOGPROBS)
    if top and not logprobs:
        raise _refuse("top_logprobs", 'needs "logprobs": true')
    stream = _bool(body, "stream")
    so = body.get("stream_options")
    if so is not None:
        if not stream:
            raise _refuse("stream_options", 'only allowed with "stream": true')
        if not isinstance(so, dict):
            raise _refuse("stream_options", f"expected an object, found {json.dumps(so)[:80]}")
    so = so or {}
    if _bool(body, "echo"):
        raise _refuse("echo", "echoing the prompt is not supported; send \"echo\": false")
    if "audio" in (body.get("modalities") or []) or body.get("audio") is not None:
        raise _refuse("modalities", 'only text output; send "modalities": ["text"]')
    _response_format(body.get("response_format"))
    _structured(body)
    _tools(body)
    return ChatOptions(
        n=n, max_tokens=max_tokens, stop=_stop(body.get("stop")),
        include_stop=_bool(body, "include_stop_str_in_output"), logprobs=logprobs,
        top_logprobs=top or 0, stream=stream,
        include_usage=_bool(so, "include_usage", "stream_options.include_usage"),
        continuous_usage=_bool(so, "continuous_usage_stats", "stream_options.continuous_usage_stats"))
