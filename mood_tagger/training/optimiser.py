"""Mini-batch Adam for the two-head model, in numpy.

The first layer is updated lazily: only the rows of features present in a batch
(the sparse-embedding trick of fastText), so an epoch costs O(active features).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from mood_tagger.model.classifier import N_EMOTIONS as N_EMO
from mood_tagger.model.calibration import softmax
from mood_tagger.model.classifier import dot, output_logits


@dataclass
class Adam:
    lr: float
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    def __post_init__(self):
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}
        self.t = 0

    def step(self, name: str, param: np.ndarray, grad: np.ndarray,
             rows: np.ndarray | None = None) -> None:
        if name not in self.m:
            self.m[name] = np.zeros_like(param)
            self.v[name] = np.zeros_like(param)
        m, v = self.m[name], self.v[name]
        sel = slice(None) if rows is None else rows
        m[sel] = self.beta1 * m[sel] + (1 - self.beta1) * grad
        v[sel] = self.beta2 * v[sel] + (1 - self.beta2) * grad * grad
        m_hat = m[sel] / (1 - self.beta1 ** self.t)
        v_hat = v[sel] / (1 - self.beta2 ** self.t)
        param[sel] -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


def init_weights(n_features: int, hidden: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    n_out = N_EMO + 2
    if hidden == 0:
        return {"W1": np.zeros((n_features, n_out), np.float32), "b1": np.zeros(n_out, np.float32)}
    return {"W1": (rng.standard_normal((n_features, hidden)) * 0.1).astype(np.float32),
            "b1": np.zeros(hidden, np.float32),
            "W2": (rng.standard_normal((hidden, n_out)) / np.sqrt(hidden)).astype(np.float32),
            "b2": np.zeros(n_out, np.float32)}


def forward(X: sparse.csr_matrix, w: dict[str, np.ndarray], activation: str
            ) -> tuple[np.ndarray, np.ndarray]:
    """Batch logits: the sparse first layer, then the model's own output_logits."""
    return output_logits(np.asarray(X @ w["W1"]) + w["b1"], w, activation)


def loss_and_grads(xb: sparse.csr_matrix, y_emo: np.ndarray, y_cel: np.ndarray,
                   w: dict[str, np.ndarray], *, l2: float, celebrate_weight: float,
                   activation: str, mask: np.ndarray | float | None = None
                   ) -> tuple[float, dict[str, np.ndarray], np.ndarray]:
    """(summed cross-entropy, gradients of mean CE + l2/2·‖W‖² over the rows present,
    those rows). W1's gradient is given for `rows` only (the lazy sparse update)."""
    n = xb.shape[0]
    z1 = np.asarray(xb @ w["W1"]) + w["b1"]
    logits, a = output_logits(z1, w, activation, mask)
    p_emo = softmax(logits[:, :N_EMO])
    p_cel = softmax(logits[:, N_EMO:])
    y_yes = np.asarray(y_cel, dtype=y_emo.dtype)     # 0/1 labels or soft P(yes) targets
    cel_onehot = np.stack([1.0 - y_yes, y_yes], axis=1)
    loss = float(-(y_emo * np.log(p_emo + 1e-9)).sum()
                 - celebrate_weight * (cel_onehot * np.log(p_cel + 1e-9)).sum())
    grad = np.concatenate([p_emo - y_emo, celebrate_weight * (p_cel - cel_onehot)], axis=1) / n
    grads: dict[str, np.ndarray] = {}
    if w.get("W2") is not None:
        grads["W2"] = dot(a.T, grad) + l2 * w["W2"]
        grads["b2"] = grad.sum(0)
        d_a = dot(grad, w["W2"].T)
        if mask is not None:
            d_a = d_a * mask
        grad = d_a * (z1 > 0) if activation == "relu" else d_a
    rows = np.unique(xb.indices)
    local = np.searchsorted(rows, xb.indices)
    x_local = sparse.csr_matrix((xb.data, local, xb.indptr), shape=(n, len(rows)))
    grads["W1"] = (np.asarray(x_local.T @ grad) + l2 * w["W1"][rows]).astype(w["W1"].dtype)
    grads["b1"] = grad.sum(0)
    return loss, grads, rows


def dropout_mask(rng: np.random.Generator, shape: tuple[int, int], rate: float
                 ) -> np.ndarray | None:
    """Inverted dropout: zeros with probability `rate`, survivors scaled by 1/(1 - rate) so
    the expected activation is unchanged and inference needs no rescaling."""
    if rate <= 0:
        return None
    return (rng.random(shape) >= rate).astype(np.float32) / (1 - rate)


def train_epoch(X: sparse.csr_matrix, y_emo: np.ndarray, y_cel: np.ndarray,
                w: dict[str, np.ndarray], opt: Adam, *, batch_size: int, l2: float,
                celebrate_weight: float, activation: str, dropout: float,
                rng: np.random.Generator) -> float:
    """One pass over the data in shuffled mini-batches; returns the mean loss."""
    order = rng.permutation(X.shape[0])
    total = 0.0
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        mask = dropout_mask(rng, (len(idx), w["W2"].shape[0]), dropout) if "W2" in w else None
        loss, grads, rows = loss_and_grads(X[idx], y_emo[idx], y_cel[idx], w, l2=l2,
                                           celebrate_weight=celebrate_weight,
                                           activation=activation, mask=mask)
        total += loss
        opt.t += 1
        for name, g in grads.items():
            opt.step(name, w[name], g, rows=rows if name == "W1" else None)
    return total / X.shape[0]
