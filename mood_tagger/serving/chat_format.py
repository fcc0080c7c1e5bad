"""The `[CONTEXT]` user message of the original plan, parsed back into an exchange.

    [CONTEXT]
    user_last_message: "Dạ, con voi ăn cỏ ạ."
    pika_response: "Đúng rồi, con giỏi lắm!"
    [OUTPUT]

The original client does not escape the texts, so a value runs from its opening quote to
the last quote before the next field (or before [OUTPUT] / the end): quotes and newlines
inside the texts survive. An optional `history: [...]` JSON line may precede the fields.
"""

from __future__ import annotations

import json
import re

from mood_tagger.errors import InputError

EXPECTED_FORMAT = ('[CONTEXT]\\nuser_last_message: "<child\'s message>"\\n'
                   'pika_response: "<Pika\'s reply>"\\n[OUTPUT]')
_USER = re.compile(r'user_last_message:\s*"')
_PIKA = re.compile(r'\n\s*pika_response:\s*"')
_OUTPUT = re.compile(r"\n\s*\[OUTPUT\]")
_HISTORY = re.compile(r"^\s*history:\s*(\[.*\])\s*$", re.MULTILINE)


def _until_last_quote(text: str, what: str) -> str:
    end = text.rstrip().rfind('"')
    if end < 0:
        raise InputError(f"{what}: the closing quote is missing; expected format: {EXPECTED_FORMAT}")
    return text[:end]


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
    history = None
    hist_m = _HISTORY.search(content[:user_m.start()])
    if hist_m:
        try:
            history = json.loads(hist_m.group(1))
        except json.JSONDecodeError as exc:
            raise InputError(f"history: invalid JSON ({exc.msg}); expected "
                             '[{"role": "pika", "text": "..."}]') from exc
    return user, pika, history


def message_text(content: str | list | None) -> str:
    """OpenAI content may be a string or a list of {type: text, text} parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""
