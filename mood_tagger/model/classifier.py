"""The multi-task classifier: sparse text features → [hidden layer] → two heads.

A saved model is a folder holding
    config.json    labels, feature and training configuration, calibration, corpus hash, metrics
    vocab.json     the feature strings, in index order
    weights.npz    float32 arrays, read with allow_pickle=False

Probabilities are temperature-calibrated per head on held-out training data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from mood_tagger.data.schema import Exchange
from mood_tagger.errors import ModelError
from mood_tagger.features import FeatureConfig, extract
from mood_tagger.labels import CELEBRATE_VALUES, EMOTION_TAGS
from mood_tagger.model.calibration import Calibration
from mood_tagger.model.protocol import Prediction, read_config, to_predictions

FORMAT_VERSION = 1
N_EMOTIONS = len(EMOTION_TAGS)


# ----- the forward pass: one definition, used by inference and by the trainer ----------
def dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense matrix product in a fixed summation order. BLAS (a @ b) picks a kernel per CPU
    and OPENBLAS_CORETYPE, and its last-bit differences used to move the fitted celebrate
    threshold; numpy's own einsum loop does not depend on them, so training reproduces."""
    return np.einsum("ij,jk->ik", a, b, optimize=False)


def idf_row(idf: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The input row of one exchange: IDF weights of its features, L2-normalised."""
    v = idf[ids]
    return v / np.sqrt(np.einsum("i,i->", v, v)) if ids.size else v


def output_logits(z1: np.ndarray, weights: dict[str, np.ndarray], activation: str,
                  mask: np.ndarray | float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """First-layer pre-activations → (logits, hidden activations). `mask` is the training-time
    dropout mask, applied to the activations. A linear model (no W2) returns z1 as both."""
    if weights.get("W2") is None:
        return z1, z1
    a = np.maximum(z1, 0.0) if activation == "relu" else z1
    if mask is not None:
        a = a * mask
    return (dot(a, weights["W2"]) if a.ndim == 2 else a @ weights["W2"]) + weights["b2"], a


def default_model_path() -> Path:
    """The model shipped with the package: mood_tagger/models/default (package data)."""
    return Path(__file__).resolve().parents[1] / "models" / "default"


class TaggerModel:
    """Weights: W1 (V × H) maps features to the hidden layer, or straight to the 15 outputs
    (13 emotion logits, 2 celebrate logits) when `hidden == 0`; W2/b2 exist only with a hidden layer.
    """

    def __init__(self, config: dict, vocab: Sequence[str], weights: dict[str, np.ndarray]):
        self.config = config
        self.features = FeatureConfig.from_dict(config["features"])
        self.vocab_list = list(vocab)
        self.vocab = {f: i for i, f in enumerate(self.vocab_list)}
        self.weights = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}
        self.idf = self.weights["idf"]
        self.W1, self.b1 = self.weights["W1"], self.weights["b1"]
        self.hidden = int(config["model"]["hidden"])
        self.activation = config["model"].get("activation", "relu")
        self.W2 = self.weights.get("W2")
        self.b2 = self.weights.get("b2")
        self.calibration = Calibration.from_config(config)
        if self.W1.shape[0] != len(self.vocab_list):
            raise ModelError(f"weights have {self.W1.shape[0]} feature rows but vocab.json has "
                             f"{len(self.vocab_list)} entries; the model folder is inconsistent")

    @property
    def name(self) -> str:
        return self.config.get("name", "unnamed")

    # ----- features -------------------------------------------------------------
    def feature_ids(self, ex: Exchange) -> np.ndarray:
        vocab = self.vocab
        ids = [vocab[f] for f in extract(ex, self.features) if f in vocab]
        return np.fromiter(ids, dtype=np.int64, count=len(ids))

    def _logits_one(self, ids: np.ndarray) -> np.ndarray:
        """The single-exchange fast path: a gather of the rows present, no sparse matrix."""
        z1 = idf_row(self.idf, ids) @ self.W1[ids] + self.b1 if ids.size else self.b1.copy()
        return output_logits(z1, self.weights, self.activation)[0]

    # ----- public API -----------------------------------------------------------
    def predict_proba(self, exchanges: Sequence[Exchange]) -> tuple[np.ndarray, np.ndarray]:
        """(emotion probabilities n × 13 in EMOTION_TAGS order, P(celebrate = yes) of length n)."""
        logits = np.stack([self._logits_one(self.feature_ids(ex)) for ex in exchanges]) \
            if exchanges else np.zeros((0, N_EMOTIONS + 2), dtype=np.float32)
        return self.calibration.probabilities(logits)

    def predict(self, exchanges: Sequence[Exchange], top_k: int = 3) -> list[Prediction]:
        return to_predictions(*self.predict_proba(exchanges), self.calibration, top_k)

    def predict_one(self, ex: Exchange) -> Prediction:
        return self.predict([ex])[0]

    # ----- persistence ----------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        config = dict(self.config, format_version=FORMAT_VERSION, kind="sparse-ngram",
                      labels={"emotion": list(EMOTION_TAGS), "celebrate": list(CELEBRATE_VALUES)})
        (path / "config.json").write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n",
                                          encoding="utf-8")
        (path / "vocab.json").write_text(json.dumps(self.vocab_list, ensure_ascii=False),
                                         encoding="utf-8")
        stored = self.weights
        if self.config["model"].get("weights_dtype") == "float16":
            # The trainer already rounded these to float16, so loading gives identical floats.
            stored = {k: v.astype(np.float16) if v.ndim == 2 else v for k, v in stored.items()}
        np.savez_compressed(path / "weights.npz", **stored)  # type: ignore[arg-type]
        return path

    @classmethod
    def load(cls, path: str | Path | None = None) -> "TaggerModel":
        path = Path(path) if path is not None else default_model_path()
        missing = [n for n in ("config.json", "vocab.json", "weights.npz") if not (path / n).is_file()]
        if missing:
            raise ModelError(f"{path}: not a model folder (missing {', '.join(missing)}); "
                             "train one with 'mood-tagger train --out PATH' or omit --model "
                             "to use the shipped default")
        config = read_config(path)
        try:
            vocab = json.loads((path / "vocab.json").read_text(encoding="utf-8"))
            with np.load(path / "weights.npz", allow_pickle=False) as npz:
                weights = {k: npz[k] for k in npz.files}
        except (OSError, ValueError) as exc:
            raise ModelError(f"{path}: cannot read model files ({exc}); retrain or restore the "
                             "folder") from exc
        if config.get("format_version") != FORMAT_VERSION:
            raise ModelError(f"{path}: model format {config.get('format_version')!r}, this "
                             f"version reads format {FORMAT_VERSION}; retrain the model")
        try:
            return cls(config, vocab, weights)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{path}: config.json or weights.npz lacks {exc}; the folder is "
                             "incomplete or from another tool, retrain it") from exc
