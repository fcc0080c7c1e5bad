"""The `[CONTEXT]` user message of the original plan, parsed back into an exchange.

    [CONTEXT]
    user_last_message: "Dạ, con voi ăn cỏ ạ."
    pika_response: "Đúng rồi, con giỏi lắm!"
    [OUTPUT]

The original client does not escape the texts, so a value runs from its opening quote to
the last quote before the next field (or before [OUTPUT] / the end): quotes and newlines
inside the texts survive. A value that is a JSON string literal with escapes (as our own
`openai` backend writes it, mood_tagger/backends/prompt.py) is decoded. History may precede
the fields as one `history: [{"role": ..., "text": ...}]` JSON line or as the backend's
`history:` block of `- pika: "..."` / `- child: "..."` lines.
"""

from __future__ import annotations

import json
import re

from mood_tagger.errors import InputError

EXPECTED_FORMAT = ('[CONTEXT]\\nuser_last_message: "<child\'s message>"\\n'
                   'pika_response: "<Pika\'s reply>"\\n[OUTPUT]')
MAX_HISTORY_JSON_CHARS = 200_000
# Horizontal whitespace only ([ \t]), never \s: a pattern that can run across newlines makes
# the scan quadratic in the number of lines, and the content comes from the network.
_USER = re.compile(r'user_last_message:[ \t]*"')
_PIKA = re.compile(r'\n[ \t]*pika_response:[ \t]*"')
_OUTPUT = re.compile(r"\n[ \t]*\[OUTPUT\]")
_HISTORY_JSON = re.compile(r"^[ \t]*history:[ \t]*(\[.*\])[ \t]*$", re.MULTILINE)
_HISTORY_ITEM = re.compile(r'^[ \t]*-[ \t]*(pika|child):[ \t]*(".*")[ \t]*$', re.MULTILINE)


def _decode(raw: str) -> str:
    """Raw text, or the decoded JSON literal when the value was written escaped."""
    if "\\" in raw:
        try:
            value = json.loads(f'"{raw}"')
        except ValueError:
            return raw
        return value if isinstance(value, str) else raw
    return raw


def _until_last_quote(text: str, what: str) -> str:
    end = text.rstrip().rfind('"')
    if end < 0:
        raise InputError(f"{what}: the closing quote is missing; expected format: {EXPECTED_FORMAT}")
    return _decode(text[:end])


def _history(head: str) -> list | None:
    json_line = _HISTORY_JSON.search(head)
    if json_line:
        text = json_line.group(1)
        if len(text) > MAX_HISTORY_JSON_CHARS:
            raise InputError(f"history: {len(text)} characters, the limit is "
                             f"{MAX_HISTORY_JSON_CHARS}; send the most recent turns only")
        try:
            return json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise InputError("history: invalid JSON; expected "
                             '[{"role": "pika", "text": "..."}]') from exc
    items = _HISTORY_ITEM.findall(head)
    if not items:
        return None
    try:
        return [{"role": role, "text": json.loads(literal)} for role, literal in items]
    except ValueError as exc:
        raise InputError('history: each "- role: \\"text\\"" line needs a JSON string') from exc


def parse_context(content: str) -> tuple[str, str, list | None]:
    """(user_last_message, pika_response, history) from the user message content."""
    user_m = _USER.search(content)
    pika_m = _PIKA.search(content, user_m.end() if user_m else 0)
    if not user_m or not pika_m:
        missing = "user_last_message" if not user_m else "pika_response"
        raise InputError(f"the user message has no {missing} line; expected format: "
                         f"{EXPECTED_FORMAT}")
    user = _until_last_quote(content[user_m.end():pika_m.start()], "user_last_message")
    tail = content[pika_m.end():]
    out_m = _OUTPUT.search(tail)
    pika = _until_last_quote(tail[:out_m.start()] if out_m else tail, "pika_response")
    return user, pika, _history(content[:user_m.start()])


def message_text(content) -> str:
    """OpenAI content: a string, or a list of parts of which the {"type": "text"} ones count."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = (getattr(p, "text", None) if not isinstance(p, dict) else p.get("text")
                 for p in content
                 if (getattr(p, "type", None) if not isinstance(p, dict) else p.get("type")) == "text")
        return "".join(t for t in texts if isinstance(t, str))
    return ""
