"""Text → sparse features: the speaker of every part stays visible.

Features are strings such as ``p:đúng rồi`` (a word bigram of Pika's reply) or
``c~con meo`` (a bigram of the child's message with diacritics stripped). Prefixes:

    c   child's last message          p   Pika's reply
    p0  first sentence of the reply   pl  last sentence of the reply
    q   Pika's last turn in history (often the question being answered)
    h   earlier history turns, prefixed by role (hc / hp)
    ~   the same part with diacritics stripped (children often type without them)
    #   character n-grams of the stripped child message (robust to typos)

This module is on the hot path: plain Python, no allocations it can avoid.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass
from typing import Iterable

from mood_tagger.data.schema import Exchange

_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
_STRIP_TABLE = str.maketrans({"đ": "d", "Đ": "D"})


@dataclass(frozen=True)
class FeatureConfig:
    pika_word_ngrams: int = 3
    child_word_ngrams: int = 2
    history_word_ngrams: int = 2
    child_char_ngrams: tuple[int, int] = (3, 4)
    stripped_parts: bool = True
    sentence_parts: bool = True
    max_history_turns: int = 4

    @classmethod
    def from_dict(cls, data: dict) -> "FeatureConfig":
        data = dict(data)
        if "child_char_ngrams" in data:
            data["child_char_ngrams"] = tuple(data["child_char_ngrams"])
        return cls(**data)

    def to_dict(self) -> dict:
        return asdict(self)


def normalise(text: str) -> str:
    return unicodedata.normalize("NFC", text).lower()


def strip_diacritics(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.translate(_STRIP_TABLE))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _add_ngrams(out: set[str], prefix: str, toks: list[str], n_max: int) -> None:
    n_tok = len(toks)
    for n in range(1, n_max + 1):
        for i in range(n_tok - n + 1):
            out.add(prefix + " ".join(toks[i:i + n]))


def _add_chars(out: set[str], prefix: str, text: str, lo: int, hi: int) -> None:
    padded = f" {' '.join(text.split())} "
    for n in range(lo, hi + 1):
        for i in range(len(padded) - n + 1):
            out.add(prefix + padded[i:i + n])


def _last_pika_turn(history: Iterable) -> tuple[str | None, list]:
    turns = list(history)
    for i in range(len(turns) - 1, -1, -1):
        if turns[i].role == "pika":
            return turns[i].text, turns[:i] + turns[i + 1:]
    return None, turns


def extract(ex: Exchange, cfg: FeatureConfig) -> set[str]:
    """All feature strings of one exchange."""
    out: set[str] = set()
    child = normalise(ex.user_last_message)
    pika = normalise(ex.pika_response)

    child_toks = tokens(child)
    _add_ngrams(out, "c:", child_toks, cfg.child_word_ngrams)
    pika_toks = tokens(pika)
    _add_ngrams(out, "p:", pika_toks, cfg.pika_word_ngrams)

    if cfg.stripped_parts:
        child_bare = strip_diacritics(child)
        _add_ngrams(out, "c~", tokens(child_bare), cfg.child_word_ngrams)
        _add_ngrams(out, "p~", tokens(strip_diacritics(pika)), 2)
        lo, hi = cfg.child_char_ngrams
        if hi >= lo > 0:
            _add_chars(out, "#", child_bare, lo, hi)

    if cfg.sentence_parts:
        sentences = _SENTENCE_END.split(pika.strip())
        _add_ngrams(out, "p0:", tokens(sentences[0]), 2)
        if len(sentences) > 1:
            _add_ngrams(out, "pl:", tokens(sentences[-1]), 2)
        out.add(f"n_sent={min(len(sentences), 5)}")

    recent = ex.history[-cfg.max_history_turns:] if cfg.max_history_turns > 0 else ()
    question, rest = _last_pika_turn(recent)
    if question is None:
        out.add("no_question")
    else:
        q = normalise(question)
        _add_ngrams(out, "q:", tokens(q), cfg.history_word_ngrams)
        if cfg.stripped_parts:
            _add_ngrams(out, "q~", tokens(strip_diacritics(q)), 1)
        out.add("q?" if "?" in q else "q.")
    for turn in rest:
        role = "hc:" if turn.role == "child" else "hp:"
        _add_ngrams(out, role, tokens(normalise(turn.text)), 1)
    out.add(f"c_len={min(len(child_toks) // 3, 6)}")
    return out
