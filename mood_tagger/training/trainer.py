"""Train a TaggerModel from labelled exchanges: reads top to bottom.

1. extract features, build vocabulary + IDF, build the sparse matrix;
2. hold out a seeded calibration split, train on the rest, fit one temperature per head
   and the celebrate threshold on the held-out part;
3. retrain on everything with the same settings and ship that, carrying the calibration.
"""

from __future__ import annotations

import platform
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import numpy as np
from tqdm.auto import tqdm

from mood_tagger import __version__
from mood_tagger.data.schema import Exchange
from mood_tagger.errors import InputError
from mood_tagger.features import FeatureConfig, extract
from mood_tagger.labels import EMOTION_TAGS
from mood_tagger.model.classifier import N_EMOTIONS as N_EMO
from mood_tagger.model.calibration import softmax
from mood_tagger.model.classifier import TaggerModel
from mood_tagger.training import matrix
from mood_tagger.training.calibration import calibration_split, celebrate_threshold, nll_temperature
from mood_tagger.training.optimiser import Adam, forward, init_weights, train_epoch

@dataclass
class TrainConfig:
    # Defaults = the shipped design (docs/model-selection.md): one 64-unit ReLU layer.
    hidden: int = 64                # 0: linear two-head model; >0: one shared hidden layer
    activation: str = "relu"        # "relu" (MLP) or "linear" (fastText-style embedding bag)
    epochs: int = 20
    batch_size: int = 32
    lr: float = 0.005
    l2: float = 1e-6
    dropout: float = 0.2
    min_count: int = 2
    max_features: int = 100_000
    ok_mass: float = 0.2            # target mass spread over the other emotion_ok tags
    celebrate_weight: float = 1.5
    calibration_fraction: float = 0.1
    celebrate_target_precision: float = 0.95  # the threshold balances the margins to these
    celebrate_target_recall: float = 0.93     # product targets on held-out data
    seed: int = 13
    weights_dtype: str = "float16"   # halves the shipped size (≤ 25 MB); "float32" to keep all bits
    features: FeatureConfig = field(default_factory=FeatureConfig)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["features"] = self.features.to_dict()
        return data


def _fit(X, y_emo, y_cel, cfg: TrainConfig, desc: str, progress: bool) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(cfg.seed)
    weights = init_weights(X.shape[1], cfg.hidden, rng)
    opt = Adam(lr=cfg.lr)
    bar = tqdm(range(cfg.epochs), desc=desc, unit="epoch", disable=not progress, leave=False)
    for _ in bar:
        loss = train_epoch(X, y_emo, y_cel, weights, opt, batch_size=cfg.batch_size, l2=cfg.l2,
                           celebrate_weight=cfg.celebrate_weight, activation=cfg.activation,
                           dropout=cfg.dropout, rng=rng)
        bar.set_postfix(loss=f"{loss:.3f}")
    return weights


def train_model(exchanges: Sequence[Exchange], cfg: TrainConfig | None = None, *,
                name: str = "mood-tagger", progress: bool = True,
                log: Callable[[str], None] = lambda _msg: None) -> TaggerModel:
    cfg = cfg or TrainConfig()
    unlabelled = [i for i, ex in enumerate(exchanges) if not ex.labelled]
    if unlabelled:
        raise InputError(f"{len(unlabelled)} exchanges have no labels (first: #{unlabelled[0]}); "
                         "training needs emotion_name and celebrate on every line")
    if len(exchanges) < 4:
        raise InputError(f"training needs at least 4 labelled exchanges, found {len(exchanges)}")

    feats = [extract(ex, cfg.features) for ex in
             tqdm(exchanges, desc="features", unit="ex", disable=not progress, leave=False)]
    vocab_list, idf = matrix.build_vocab(feats, cfg.min_count, cfg.max_features)
    vocab = {f: i for i, f in enumerate(vocab_list)}
    X = matrix.design_matrix(feats, vocab, idf)
    y_emo = matrix.emotion_targets(exchanges, cfg.ok_mass)
    y_cel = matrix.celebrate_targets(exchanges)
    y_cel_soft = matrix.celebrate_soft_targets(exchanges)
    y_emo_hard = np.array([EMOTION_TAGS.index(ex.emotion_name) for ex in exchanges])
    log(f"{len(exchanges)} exchanges, {len(vocab_list)} features")

    cal, fit = calibration_split(exchanges, cfg.calibration_fraction, cfg.seed)
    n_cal = len(cal)
    w_split = _fit(X[fit], y_emo[fit], y_cel_soft[fit], cfg, "train (calibration split)", progress)
    logits, _ = forward(X[cal], w_split, cfg.activation)
    calibration = {
        # calibrated against emotion_name (what strict accuracy counts), not the soft targets
        "emotion_temperature": nll_temperature(logits[:, :N_EMO], y_emo_hard[cal]),
        "celebrate_temperature": nll_temperature(logits[:, N_EMO:], y_cel[cal]),
        "held_out": int(n_cal),
    }
    p_yes = softmax(logits[:, N_EMO:] / calibration["celebrate_temperature"])[:, 1]
    calibration["celebrate_threshold"] = celebrate_threshold(
        p_yes, y_cel[cal], cfg.celebrate_target_precision, cfg.celebrate_target_recall)
    log(f"calibration: {calibration}")

    weights = _fit(X, y_emo, y_cel_soft, cfg, "train (all data)", progress)
    if cfg.weights_dtype == "float16":
        weights = {k: v.astype(np.float16).astype(np.float32) if v.ndim == 2 else v
                   for k, v in weights.items()}
    weights["idf"] = idf
    config = {
        "name": name,
        "model": {"kind": "sparse-ngram", "hidden": cfg.hidden, "activation": cfg.activation,
                  "weights_dtype": cfg.weights_dtype},
        "features": cfg.features.to_dict(),
        "training": cfg.to_dict() | {"n_examples": len(exchanges), "n_features": len(vocab_list),
                                     "mood_tagger_version": __version__,
                                     "python": platform.python_version()},
        "corpus_hash": matrix.corpus_hash(exchanges),
        "calibration": calibration,
        "metrics": {},
    }
    return TaggerModel(config, vocab_list, weights)
