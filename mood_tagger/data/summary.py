"""Composition summary of a corpus: tags, celebrate split, languages, cases."""

from __future__ import annotations

from collections import Counter
from typing import Sequence

from mood_tagger.data.schema import Exchange
from mood_tagger.labels import EMOTION_TAGS

HARD_NEGATIVE_CASES = {"opinion_praised", "feeling_agreed", "idea_praised", "behaviour_praised",
                       "personal_fact", "child_asks", "almost_right", "wrong_answer",
                       "correct_unconfirmed"}


def summarise(exchanges: Sequence[Exchange]) -> dict:
    n = len(exchanges)
    tags = Counter(ex.emotion_name for ex in exchanges)
    cases = Counter(ex.extra.get("case", "unspecified") for ex in exchanges)
    return {
        "n": n,
        "emotion": {t: tags.get(t, 0) for t in EMOTION_TAGS},
        "celebrate": dict(Counter(ex.celebrate for ex in exchanges)),
        "lang": dict(Counter(ex.lang or "unknown" for ex in exchanges)),
        "with_history": sum(bool(ex.history) for ex in exchanges),
        "hard_negatives": sum(cases[c] for c in HARD_NEGATIVE_CASES),
        "case": dict(cases.most_common()),
        "source": dict(Counter(str(ex.extra.get("source", "hand")).split(":")[0]
                               for ex in exchanges)),
    }


def format_summary(s: dict) -> str:
    n = max(s["n"], 1)
    pct = lambda k: f"{k} ({100 * k / n:.1f}%)"  # noqa: E731
    lines = [f"exchanges: {s['n']}   with history: {pct(s['with_history'])}   "
             f"hard negatives: {pct(s['hard_negatives'])}",
             "celebrate: " + ", ".join(f"{k} {pct(v)}" for k, v in
                                       sorted(s["celebrate"].items(), key=lambda kv: str(kv[0]))),
             "lang:      " + ", ".join(f"{k} {pct(v)}" for k, v in sorted(s["lang"].items())),
             "source:    " + ", ".join(f"{k} {v}" for k, v in sorted(s["source"].items())),
             "emotion:"]
    lines += [f"  {t:<13}{c:>6}" for t, c in s["emotion"].items()]  # the 13 tags, in order
    lines.append("case:")
    lines += [f"  {c:<20}{k:>6}" for c, k in s["case"].items()]
    return "\n".join(lines)
