"""Training targets and the corpus hash, shared by every trainer (numpy only)."""

from __future__ import annotations

import hashlib
import json
from typing import Sequence

import numpy as np

from mood_tagger.data.schema import Exchange
from mood_tagger.data.soft_labels import teacher_celebrate, teacher_emotion
from mood_tagger.labels import EMOTION_TAGS


def emotion_targets(exchanges: Sequence[Exchange], ok_mass: float) -> np.ndarray:
    """Soft targets: the teacher's distribution where a line has one (`label --soft`), else
    1 - ok_mass on emotion_name and ok_mass spread over the other emotion_ok tags."""
    y = np.zeros((len(exchanges), len(EMOTION_TAGS)), dtype=np.float32)
    for row, ex in enumerate(exchanges):
        teacher = teacher_emotion(ex.extra)
        if teacher is not None:
            y[row] = teacher
            continue
        others = [t for t in ex.emotion_ok if t != ex.emotion_name]
        main = EMOTION_TAGS.index(ex.emotion_name)
        if others and ok_mass > 0:
            y[row, main] = 1.0 - ok_mass
            for t in others:
                y[row, EMOTION_TAGS.index(t)] += ok_mass / len(others)
        else:
            y[row, main] = 1.0
    return y


def celebrate_targets(exchanges: Sequence[Exchange]) -> np.ndarray:
    """Hard 0/1 labels (calibration and metrics use these)."""
    return np.array([ex.celebrate == "yes" for ex in exchanges], dtype=np.int64)


def celebrate_soft_targets(exchanges: Sequence[Exchange]) -> np.ndarray:
    """P(yes) to train on: the teacher's probability where a line has one, else the 0/1 label."""
    return np.array([p if (p := teacher_celebrate(ex.extra)) is not None else float(ex.celebrate == "yes")
                     for ex in exchanges], dtype=np.float32)


def corpus_hash(exchanges: Sequence[Exchange]) -> str:
    """sha256 of the canonical JSON of every exchange, in order."""
    h = hashlib.sha256()
    for ex in exchanges:
        h.update(json.dumps(ex.to_json(), ensure_ascii=False, sort_keys=True).encode("utf-8"))
        h.update(b"\n")
    return "sha256:" + h.hexdigest()
