"""Generated augmentation on top of the hand-written corpus (counted separately).

Only surface forms change, never the meaning that decides the labels:
  - the child's message: diacritics stripped, keyboard typos, casing, a particle added/removed;
  - Pika's reply: the child's name swapped for another name.
Each generated line carries `"source": "augment:<ops>"` and `"augmented_from": <id>`.
"""

from __future__ import annotations

import random
import re
from dataclasses import replace
from typing import Sequence

from mood_tagger.data.schema import Exchange
from mood_tagger.features import strip_diacritics

NAMES = ["Bin", "Na", "Su", "Tí", "Bống", "Mai", "Khoa", "Minh", "Gấu", "Cún", "Lan", "Nam", "Bơ",
         "Mít", "Sóc", "Tôm", "Ken", "Lily", "Tom", "Anna"]
PARTICLES = ["ạ", "nè", "á", "nha", "đó", "hihi"]
_NAME_RE = re.compile(r"\b(" + "|".join(map(re.escape, NAMES)) + r")\b")
_PARTICLE_END = re.compile(r"\s+(ạ|nè|á|nha|đó)([!.?]*)$")


def _typo(text: str, rng: random.Random) -> str:
    """One keyboard slip: drop, double or swap a letter inside a word."""
    positions = [i for i, ch in enumerate(text) if ch.isalpha()]
    if len(positions) < 4:
        return text
    i = rng.choice(positions[1:-1])
    kind = rng.choice(("drop", "double", "swap"))
    if kind == "drop":
        return text[:i] + text[i + 1:]
    if kind == "double":
        return text[:i] + text[i] + text[i:]
    return text[:i] + text[i + 1] + text[i] + text[i + 2:] if i + 1 < len(text) else text


def _particle(text: str, rng: random.Random) -> str:
    if _PARTICLE_END.search(text):
        return _PARTICLE_END.sub(r"\2", text)
    return text.rstrip(" .!") + " " + rng.choice(PARTICLES)


def _casing(text: str, rng: random.Random) -> str:
    return text.lower() if rng.random() < 0.7 else text.upper()


CHILD_OPS = {"strip": lambda t, rng: strip_diacritics(t), "typo": _typo, "particle": _particle,
             "case": _casing}


def augment_one(ex: Exchange, rng: random.Random) -> Exchange | None:
    ops = rng.sample(sorted(CHILD_OPS), k=rng.choice((1, 2)))
    user = ex.user_last_message
    for op in ops:
        if op == "particle" and (ex.lang == "en"):
            continue
        user = CHILD_OPS[op](user, rng)
    pika = ex.pika_response
    names = set(_NAME_RE.findall(pika))
    if names:
        old = rng.choice(sorted(names))
        new = rng.choice([n for n in NAMES if n != old])
        pika = re.sub(rf"\b{re.escape(old)}\b", new, pika)
        ops.append("name")
    if not user.strip() or (user == ex.user_last_message and pika == ex.pika_response):
        return None
    extra = {k: v for k, v in ex.extra.items() if k == "case"}
    extra |= {"source": "augment:" + "+".join(ops), "augmented_from": ex.id}
    return replace(ex, id=f"{ex.id}-aug", user_last_message=user, pika_response=pika, extra=extra)


def augment(exchanges: Sequence[Exchange], seed: int = 13, copies: int = 1) -> list[Exchange]:
    rng = random.Random(seed)
    out = []
    for copy in range(copies):
        for ex in exchanges:
            new = augment_one(ex, rng)
            if new is not None:
                out.append(replace(new, id=f"{ex.id}-aug{copy + 1}"))
    return out
