"""What every model kind offers (n-gram classifier, fine-tuned encoder), and `load_model`,
which reads `kind` from a model folder's config.json and dispatches on it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from mood_tagger.data.schema import Exchange
from mood_tagger.errors import ModelError
from mood_tagger.labels import CELEBRATE_VALUES, EMOTION_TAGS
from mood_tagger.model.calibration import Calibration


@dataclass(frozen=True, slots=True)
class Prediction:
    emotion_name: str
    celebrate: str
    emotion_top: list[tuple[str, float]]
    celebrate_p: float


class Model(Protocol):
    config: dict
    calibration: Calibration

    @property
    def name(self) -> str: ...

    def predict_proba(self, exchanges: Sequence[Exchange]) -> tuple[np.ndarray, np.ndarray]: ...

    def predict(self, exchanges: Sequence[Exchange], top_k: int = 3) -> list[Prediction]: ...

    def save(self, path: str | Path) -> Path: ...


def to_predictions(emo: np.ndarray, cel: np.ndarray, calibration: Calibration,
                   top_k: int = 3) -> list[Prediction]:
    out = []
    for p_emo, p_yes in zip(emo, cel):
        order = np.argsort(-p_emo)[:top_k]
        top = [(EMOTION_TAGS[i], float(p_emo[i])) for i in order]
        out.append(Prediction(emotion_name=top[0][0], celebrate=calibration.celebrate(float(p_yes)),
                              emotion_top=top, celebrate_p=float(p_yes)))
    return out


def read_config(path: Path) -> dict:
    """config.json of a model folder, with its labels checked against LABELS.md."""
    cfg_path = path / "config.json"
    if not cfg_path.is_file():
        raise ModelError(f"{path}: not a model folder (missing config.json); train one with "
                         "'mood-tagger train --out PATH' or omit --model to use the shipped default")
    try:
        config = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"{cfg_path}: cannot read ({exc}); retrain or restore the folder") from exc
    labels = config.get("labels", {})
    if labels.get("emotion") != list(EMOTION_TAGS):
        raise ModelError(f"{path}: the model's emotion labels differ from LABELS.md's 13 tags")
    if labels.get("celebrate", list(CELEBRATE_VALUES)) != list(CELEBRATE_VALUES):
        raise ModelError(f"{path}: the model's celebrate labels must be {list(CELEBRATE_VALUES)}")
    return config


KINDS = {"sparse-ngram": "mood_tagger.model.classifier:TaggerModel",
         "encoder": "mood_tagger.model.encoder_model:EncoderModel"}


def model_kind(config: dict) -> str:
    return config.get("kind") or config.get("model", {}).get("kind", "sparse-ngram")


def load_model(path: str | Path | None = None) -> Model:
    """Load any model folder; None → the shipped default n-gram model."""
    import importlib

    from mood_tagger.model.classifier import default_model_path
    path = Path(path) if path is not None else default_model_path()
    kind = model_kind(read_config(path))
    if kind not in KINDS:
        raise ModelError(f"{path}: unknown model kind {kind!r}; this version reads {sorted(KINDS)}")
    module, cls = KINDS[kind].split(":")
    return getattr(importlib.import_module(module), cls).load(path)
