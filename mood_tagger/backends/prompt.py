"""What the LLM backends ask (system prompt, user content) and what they accept back.

The system prompt lives in mood_tagger/prompts/<PROMPT_VERSION>.txt: LABELS.md rewritten for a
model, with contrastive examples. Its `{{OUTPUT_FORMAT}}` placeholder and the example answers
are rendered for one of two answer shapes:

    json    {"emotion_name": "proud", "celebrate": "yes"}     (~15 tokens)
    code    P                                               one capital letter A-Z, the code of
                                                            one of the 26 combined labels
                                                            <emotion>|<celebrate>: one token, forced
                                                            as a choice / regex / grammar, or read
                                                            from the top_logprobs of that token

Every reply is validated here; anything else raises UpstreamInvalidOutput, so no server and no
child's message can make the tagger emit a value outside LABELS.md.
"""

from __future__ import annotations

import json
import math
import re
import string
from functools import lru_cache
from pathlib import Path

from mood_tagger.data.schema import Exchange
from mood_tagger.errors import UpstreamInvalidOutput
from mood_tagger.labels import CELEBRATE_VALUES, EMOTION_TAGS

PROMPT_VERSION = "tagger-v1"
PROMPT_PATH = Path(__file__).resolve().parents[1] / "prompts" / f"{PROMPT_VERSION}.txt"
HISTORY_TURNS = 6                   # the most recent turns given to the model

ANSWER_SHAPES = ("json", "code")
COMBINED_LABELS: tuple[str, ...] = tuple(f"{t}|{c}" for t in EMOTION_TAGS for c in ("no", "yes"))
LABEL_CODES: dict[str, str] = dict(zip(string.ascii_uppercase, COMBINED_LABELS))   # 26 ↔ 26
CODE_OF = {label: code for code, label in LABEL_CODES.items()}
CODES: tuple[str, ...] = tuple(LABEL_CODES)                 # "A" … "Z"
CODE_REGEX = "[A-Z]"                                        # exactly one code letter
CODE_GRAMMAR = "root ::= [A-Z]"                             # the same as a llama.cpp GBNF grammar

EMOTION_SCHEMA: dict = {
    "type": "object",
    "properties": {"emotion_name": {"type": "string", "enum": list(EMOTION_TAGS)},
                   "celebrate": {"type": "string", "enum": list(CELEBRATE_VALUES)}},
    "required": ["emotion_name", "celebrate"],
    "additionalProperties": False,
}

_OUTPUT_FORMAT = {
    "json": ('Answer with one JSON object and nothing else:\n'
             '{"emotion_name": "<one of the 13 tags>", "celebrate": "yes" or "no"}'),
    "code": ("Answer with one capital letter and nothing else: the code of the label "
             "<emotion>|<celebrate>.\n" + "\n".join(f"{code} = {label}" for code, label in LABEL_CODES.items())),
}
_EXAMPLE_ANSWER = re.compile(r'^\{"emotion_name": "(\w+)", "celebrate": "(yes|no)"\}$', re.M)


# ----- asking --------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def system_prompt(shape: str = "json") -> str:
    """The versioned system prompt, with output format and example answers in `shape`."""
    if shape not in ANSWER_SHAPES:
        raise ValueError(f"answer shape {shape!r}; expected one of {ANSWER_SHAPES}")
    text = PROMPT_PATH.read_text(encoding="utf-8").replace("{{OUTPUT_FORMAT}}", _OUTPUT_FORMAT[shape])
    if shape == "json":
        return text
    return _EXAMPLE_ANSWER.sub(lambda m: CODE_OF[f"{m[1]}|{m[2]}"], text)


def quote(text: str) -> str:
    """A JSON string literal that keeps quotes, newlines and line separators on one line."""
    return json.dumps(text, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def build_user_content(exchange: Exchange) -> str:
    """The [CONTEXT] … [OUTPUT] block of one exchange; every text is one escaped line."""
    lines = ["[CONTEXT]"]
    turns = exchange.history[-HISTORY_TURNS:]
    if turns:
        lines.append("history:")
        lines.extend(f"- {turn.role}: {quote(turn.text)}" for turn in turns)
    lines.append(f"user_last_message: {quote(exchange.user_last_message)}")
    lines.append(f"pika_response: {quote(exchange.pika_response)}")
    lines.append("[OUTPUT]")
    return "\n".join(lines)


# ----- accepting -----------------------------------------------------------------------------
def _found(text: object) -> str:
    shown = repr(text)
    return shown if len(shown) <= 80 else shown[:77] + "..."


def _invalid(expected: str, found: object) -> UpstreamInvalidOutput:
    return UpstreamInvalidOutput(f"the LLM answered {_found(found)}, expected {expected}; check that "
                                 "--llm-dialect matches the server so its output is constrained")


def parse_json_reply(text: str) -> tuple[str, str]:
    """`{"emotion_name": <tag>, "celebrate": "yes"|"no"}` with exactly these two keys."""
    expected = '{"emotion_name": <one of the 13 tags>, "celebrate": "yes"|"no"}'
    try:
        obj = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise _invalid(expected, text) from exc
    if (not isinstance(obj, dict) or set(obj) != {"emotion_name", "celebrate"}
            or obj["emotion_name"] not in EMOTION_TAGS or obj["celebrate"] not in CELEBRATE_VALUES):
        raise _invalid(expected, text)
    return obj["emotion_name"], obj["celebrate"]


def parse_code_reply(text: str) -> tuple[str, str]:
    """One code letter A-Z (a forced choice), mapped back to (emotion, celebrate)."""
    code = text.strip() if isinstance(text, str) else None
    if code not in LABEL_CODES:
        raise _invalid("one capital letter A-Z, the code of a label such as "
                       f"{CODE_OF['proud|yes']} = proud|yes", text)
    emotion, celebrate = LABEL_CODES[code].split("|")
    return emotion, celebrate


def parse_code_logprobs(top_logprobs: object) -> tuple[list[tuple[str, float]], float]:
    """Emotion distribution (best first) and P(celebrate = yes) from one token's top_logprobs.

    Each code letter stands for one combined label; the mass of the codes found among the
    top tokens is renormalised. No code among them → UpstreamInvalidOutput.
    """
    mass: dict[str, float] = {}
    for entry in top_logprobs if isinstance(top_logprobs, list) else ():
        token = entry.get("token") if isinstance(entry, dict) else None
        logprob = entry.get("logprob") if isinstance(entry, dict) else None
        if (isinstance(token, str) and token.strip() in LABEL_CODES
                and isinstance(logprob, (int, float)) and math.isfinite(logprob)):
            label = LABEL_CODES[token.strip()]
            mass[label] = mass.get(label, 0.0) + math.exp(min(float(logprob), 0.0))
    total = sum(mass.values())
    if total <= 0.0:
        raise _invalid("top_logprobs holding at least one label code A-Z", top_logprobs)
    emotions: dict[str, float] = {}
    p_yes = 0.0
    for label, p in mass.items():
        emotion, celebrate = label.split("|")
        emotions[emotion] = emotions.get(emotion, 0.0) + p / total
        p_yes += p / total if celebrate == "yes" else 0.0
    return sorted(emotions.items(), key=lambda kv: -kv[1]), p_yes
