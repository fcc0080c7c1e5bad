"""Teacher probabilities kept beside the hard labels, for distillation (`label --soft`).

A soft-labelled line carries, besides the LABELS.md fields:

    "teacher_emotion_p": {"proud": 0.71, "thats_right": 0.22, ...}   # tag -> probability
    "teacher_celebrate_p": 0.93                                      # P(celebrate = yes)

Tags left out have probability 0; the values are renormalised to sum to 1. Trainers use them
as the emotion and celebrate targets of that line instead of the one-hot labels; calibration
(temperatures, the celebrate threshold) still uses the hard labels.
"""

from __future__ import annotations

import math

from mood_tagger.errors import DataError
from mood_tagger.labels import EMOTION_TAGS

EMOTION_FIELD = "teacher_emotion_p"
CELEBRATE_FIELD = "teacher_celebrate_p"


def _probability(value: object) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and 0.0 <= value <= 1.0)


def check_soft_fields(obj: dict, where: dict) -> None:
    """Raise DataError when a teacher field is present but malformed."""
    if EMOTION_FIELD in obj:
        dist = obj[EMOTION_FIELD]
        if (not isinstance(dist, dict) or not dist or any(t not in EMOTION_TAGS for t in dist)
                or not all(_probability(p) for p in dist.values()) or sum(dist.values()) <= 0):
            raise DataError("expected an object {tag: probability in [0, 1]} over the 13 tags with a "
                            f"positive sum, found {str(dist)[:60]}", field=EMOTION_FIELD, **where)
    if CELEBRATE_FIELD in obj and not _probability(obj[CELEBRATE_FIELD]):
        raise DataError(f"expected a probability in [0, 1], found {obj[CELEBRATE_FIELD]!r}",
                        field=CELEBRATE_FIELD, **where)


def teacher_emotion(extra: dict) -> list[float] | None:
    """The teacher's emotion distribution in EMOTION_TAGS order, or None."""
    dist = extra.get(EMOTION_FIELD)
    if not dist:
        return None
    total = float(sum(dist.values()))
    return [float(dist.get(t, 0.0)) / total for t in EMOTION_TAGS]


def teacher_celebrate(extra: dict) -> float | None:
    value = extra.get(CELEBRATE_FIELD)
    return None if value is None else float(value)


def soft_fields(emotion_top: list[tuple[str, float]], celebrate_p: float) -> dict:
    """The two fields for a teacher answer (emotion_top: [(tag, probability)], best first)."""
    return {EMOTION_FIELD: {tag: round(p, 6) for tag, p in emotion_top if p > 0},
            CELEBRATE_FIELD: round(celebrate_p, 6)}
