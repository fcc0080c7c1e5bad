"""Find items of one corpus that repeat or nearly repeat items of another (e.g. dev.jsonl).

Texts are compared after normalisation (lower case, diacritics and punctuation removed).
Exact: same child message and same Pika reply. Near: Jaccard similarity of character
5-gram sets of "child message ‖ Pika reply" at or above a threshold.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

from mood_tagger.data.schema import Exchange
from mood_tagger.features import normalise, strip_diacritics

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def canonical(text: str) -> str:
    return _NON_WORD.sub(" ", strip_diacritics(normalise(text))).strip()


def shingles(text: str, n: int = 5) -> set[str]:
    text = f" {text} "
    return {text[i:i + n] for i in range(max(1, len(text) - n + 1))}


@dataclass(frozen=True)
class Match:
    probe_id: str | None
    corpus_id: str | None
    similarity: float
    probe_text: str
    corpus_text: str


def find_overlaps(corpus: Sequence[Exchange], probes: Sequence[Exchange],
                  threshold: float = 0.7) -> list[Match]:
    """Every probe with a corpus item at similarity ≥ threshold (1.0 = exact after normalising)."""
    texts = [canonical(ex.user_last_message) + " | " + canonical(ex.pika_response) for ex in corpus]
    sets = [shingles(t) for t in texts]
    index: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(sets):
        for sh in s:
            index[sh].append(i)
    matches = []
    for probe in probes:
        text = canonical(probe.user_last_message) + " | " + canonical(probe.pika_response)
        ps = shingles(text)
        counts: dict[int, int] = defaultdict(int)
        for sh in ps:
            for i in index.get(sh, ()):
                counts[i] += 1
        best, best_sim = None, 0.0
        for i, inter in counts.items():
            sim = inter / (len(ps) + len(sets[i]) - inter)
            if sim > best_sim:
                best, best_sim = i, sim
        if best is not None and best_sim >= threshold:
            matches.append(Match(probe.id, corpus[best].id, round(best_sim, 3), text, texts[best]))
    return matches

