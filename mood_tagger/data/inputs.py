"""Build an Exchange from untrusted input (CLI flags, HTTP bodies), with clear errors."""

from __future__ import annotations

import unicodedata

from mood_tagger.data.schema import Exchange, Turn
from mood_tagger.errors import InputError
from mood_tagger.labels import ROLES

DEFAULT_MAX_CHARS = 4000
DEFAULT_MAX_TURNS = 32


def _clean(value: object, field: str, max_chars: int, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise InputError(f"{field}: expected a string, found {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise InputError(f"{field}: must not be empty; send the text to tag")
    if len(value) > max_chars:
        raise InputError(f"{field}: {len(value)} characters, the limit is {max_chars}; "
                         "send only the last message / reply")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(f"{field}: contains a lone surrogate at position {exc.start} "
                         "(\\ud800-\\udfff), which is not valid Unicode text; send UTF-8 text") from exc
    return unicodedata.normalize("NFC", value)


def make_exchange(user_last_message: object, pika_response: object, history: object = None, *,
                  max_chars: int = DEFAULT_MAX_CHARS,
                  max_turns: int = DEFAULT_MAX_TURNS) -> Exchange:
    """Validate and normalise (NFC) one exchange to tag; InputError names the bad field."""
    user = _clean(user_last_message, "user_last_message", max_chars)
    pika = _clean(pika_response, "pika_response", max_chars)
    turns: list[Turn] = []
    if history is not None:
        if not isinstance(history, list):
            raise InputError("history: expected a list of {\"role\": \"pika\"|\"child\", "
                             f"\"text\": \"...\"}} objects, found {type(history).__name__}")
        if len(history) > max_turns:
            raise InputError(f"history: {len(history)} turns, the limit is {max_turns}; "
                             "send the most recent turns only")
        for i, turn in enumerate(history):
            if not isinstance(turn, dict) or turn.get("role") not in ROLES:
                raise InputError(f"history[{i}]: expected {{\"role\": \"pika\"|\"child\", "
                                 f"\"text\": \"...\"}}, found {str(turn)[:80]}")
            text = _clean(turn.get("text"), f"history[{i}].text", max_chars, allow_empty=True)
            turns.append(Turn(role=turn["role"], text=text))
    return Exchange(user_last_message=user, pika_response=pika, history=tuple(turns))
