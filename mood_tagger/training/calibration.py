"""Calibration fitted on held-out training data, the same for every model kind:
one temperature per head, and the celebrate threshold chosen for precision first."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from mood_tagger.data.schema import Exchange
from mood_tagger.model.calibration import softmax

TEMPERATURES = np.exp(np.linspace(np.log(0.2), np.log(5.0), 81))


def nll_temperature(logits: np.ndarray, targets: np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood of soft or index targets."""
    best_t, best = 1.0, np.inf
    for t in TEMPERATURES:
        p = softmax(logits / t)
        if targets.ndim == 1:
            nll = -np.log(p[np.arange(len(targets)), targets] + 1e-9).mean()
        else:
            nll = -(targets * np.log(p + 1e-9)).sum(1).mean()
        if nll < best:
            best_t, best = float(t), nll
    return best_t


def celebrate_threshold(p_yes: np.ndarray, y: np.ndarray, target_precision: float,
                        target_recall: float, high: float = 0.8) -> float:
    """The threshold in [0.2, high] with the largest worst-case margin to the product targets,
    max over t of min(P(t) - target_precision, R(t) - target_recall), on held-out data;
    the middle of the plateau when several tie."""
    grid = np.round(np.arange(0.20, high + 0.001, 0.025), 3)
    margins = []
    for thr in grid:
        pred = p_yes >= thr
        tp = float((pred & (y == 1)).sum())
        prec = tp / pred.sum() if pred.sum() else 0.0
        rec = tp / (y == 1).sum() if (y == 1).sum() else 0.0
        margins.append(min(prec - target_precision, rec - target_recall))
    margin = np.asarray(margins)
    best = grid[margin >= margin.max() - 1e-9]
    return float(best[len(best) // 2])


def calibration_split(exchanges: Sequence[Exchange], fraction: float, seed: int
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Held-out indices by source item: an augmented copy stays on its original's side,
    otherwise near-copies leak into the held-out part and calibration is over-confident."""
    groups = [str(ex.extra.get("augmented_from") or ex.id or i) for i, ex in enumerate(exchanges)]
    unique = sorted(set(groups))
    rng = np.random.default_rng(seed)
    n_cal = max(1, int(round(fraction * len(unique))))
    held = set(np.asarray(unique, dtype=object)[rng.permutation(len(unique))[:n_cal]])
    cal = np.array([i for i, g in enumerate(groups) if g in held], dtype=np.int64)
    fit = np.array([i for i, g in enumerate(groups) if g not in held], dtype=np.int64)
    return cal, fit
