"""Mini-batch Adam for the two-head model, in numpy.

The first layer is updated lazily: only the rows of features present in a batch
(the sparse-embedding trick of fastText), so an epoch costs O(active features).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from mood_tagger.model.classifier import N_EMOTIONS as N_EMO
from mood_tagger.model.classifier import softmax


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
            ) -> tuple[np.ndarray, np.ndarray | None]:
    """(output logits, hidden pre-activation or None)."""
    z1 = np.asarray(X @ w["W1"]) + w["b1"]
    if "W2" not in w:
        return z1, None
    a = np.maximum(z1, 0) if activation == "relu" else z1
    return a @ w["W2"] + w["b2"], z1


def train_epoch(X: sparse.csr_matrix, y_emo: np.ndarray, y_cel: np.ndarray,
                w: dict[str, np.ndarray], opt: Adam, *, batch_size: int, l2: float,
                celebrate_weight: float, activation: str, dropout: float,
                rng: np.random.Generator) -> float:
    """One pass over the data in shuffled mini-batches; returns the mean loss."""
    order = rng.permutation(X.shape[0])
    total = 0.0
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        xb, n = X[idx], len(idx)
        z1 = np.asarray(xb @ w["W1"]) + w["b1"]
        hidden = "W2" in w
        if hidden:
            a = np.maximum(z1, 0) if activation == "relu" else z1
            mask = (rng.random(a.shape) >= dropout).astype(np.float32) / (1 - dropout) \
                if dropout > 0 else 1.0
            a = a * mask
            logits = a @ w["W2"] + w["b2"]
        else:
            logits = z1
        p_emo = softmax(logits[:, :N_EMO])
        p_cel = softmax(logits[:, N_EMO:])
        cel_onehot = np.eye(2, dtype=np.float32)[y_cel[idx]]
        total += float(-(y_emo[idx] * np.log(p_emo + 1e-9)).sum()
                       - celebrate_weight * (cel_onehot * np.log(p_cel + 1e-9)).sum())
        grad = np.concatenate([p_emo - y_emo[idx], celebrate_weight * (p_cel - cel_onehot)],
                              axis=1) / n
        opt.t += 1
        if hidden:
            opt.step("W2", w["W2"], a.T @ grad + l2 * w["W2"])
            opt.step("b2", w["b2"], grad.sum(0))
            d_a = (grad @ w["W2"].T) * mask
            grad = d_a * (z1 > 0) if activation == "relu" else d_a
        rows = np.unique(xb.indices)
        local = np.searchsorted(rows, xb.indices)
        x_local = sparse.csr_matrix((xb.data, local, xb.indptr), shape=(n, len(rows)))
        g_rows = np.asarray(x_local.T @ grad) + l2 * w["W1"][rows]
        opt.step("W1", w["W1"], g_rows.astype(np.float32), rows=rows)
        opt.step("b1", w["b1"], grad.sum(0))
    return total / X.shape[0]
