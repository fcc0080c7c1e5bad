"""Calibration applied at inference, the same for every model kind: one temperature per
head, and the celebrate threshold (fitted on held-out data by training/calibration.py)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mood_tagger.labels import CELEBRATE_VALUES, EMOTION_TAGS

N_EMOTIONS = len(EMOTION_TAGS)


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax; the one the trainer, its calibration and inference all use."""
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@dataclass(frozen=True, slots=True)
class Calibration:
    emotion_temperature: float = 1.0
    celebrate_temperature: float = 1.0
    celebrate_threshold: float = 0.5

    @classmethod
    def from_config(cls, config: dict) -> "Calibration":
        cal = config.get("calibration", {})
        return cls(float(cal.get("emotion_temperature", 1.0)),
                   float(cal.get("celebrate_temperature", 1.0)),
                   float(cal.get("celebrate_threshold", 0.5)))

    def probabilities(self, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """logits n × 15 → (emotion probabilities n × 13, P(celebrate = yes) of length n)."""
        emo = softmax(logits[:, :N_EMOTIONS] / self.emotion_temperature)
        cel = softmax(logits[:, N_EMOTIONS:] / self.celebrate_temperature)[:, 1]
        return emo, cel

    def celebrate(self, p_yes: float) -> str:
        return CELEBRATE_VALUES[int(p_yes >= self.celebrate_threshold)]
