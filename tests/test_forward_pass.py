"""The n-gram model's one forward pass: gradients equal finite differences, training and
inference agree for every activation and hidden size, the optimiser and calibration are
the ones documented, and training reproduces whatever BLAS kernel numpy uses."""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from scipy import sparse

from mood_tagger.data.jsonl import load_exchanges
from mood_tagger.labels import EMOTION_TAGS
from mood_tagger.model.calibration import Calibration
from mood_tagger.training import TrainConfig, matrix, train_model
from mood_tagger.training.calibration import nll_temperature
from mood_tagger.training.optimiser import Adam, forward, init_weights, loss_and_grads

N_OUT = len(EMOTION_TAGS) + 2


def problem(hidden: int, seed: int = 0, soft_celebrate: bool = False):
    """A small float64 problem: a sparse batch, soft emotion targets, celebrate labels (or
    soft P(yes) targets, as `label --soft` gives)."""
    rng = np.random.default_rng(seed)
    X = sparse.random(6, 10, density=0.4, random_state=seed, format="csr", dtype=np.float64)
    y_emo = rng.dirichlet(np.ones(len(EMOTION_TAGS)), size=6)
    y_cel = rng.random(6) if soft_celebrate else rng.integers(0, 2, size=6)
    w = {k: v.astype(np.float64) for k, v in init_weights(10, hidden, rng).items()}
    for v in w.values():
        v += rng.standard_normal(v.shape) * 0.3          # away from zero: ReLU kinks, W1 = 0
    return X, y_emo, y_cel, w


def objective(X, y_emo, y_cel, w, rows, *, l2, cw, activation, mask=None):
    loss, _, _ = loss_and_grads(X, y_emo, y_cel, w, l2=0.0, celebrate_weight=cw,
                                activation=activation, mask=mask)
    reg = sum((w[k] ** 2).sum() for k in ("W2",) if k in w) + (w["W1"][rows] ** 2).sum()
    return loss / X.shape[0] + 0.5 * l2 * reg


@pytest.mark.parametrize("hidden, activation, dropout, soft", [
    (0, "relu", 0.0, False), (5, "relu", 0.0, False), (5, "linear", 0.0, False), (5, "relu", 0.5, False),
    (5, "relu", 0.0, True)])
def test_gradients_equal_finite_differences(hidden, activation, dropout, soft):
    X, y_emo, y_cel, w = problem(hidden, soft_celebrate=soft)
    mask = None
    if hidden and dropout:
        mask = (np.random.default_rng(1).random((6, hidden)) >= dropout) / (1 - dropout)
    kw = dict(l2=0.3, cw=1.5, activation=activation, mask=mask)
    _, grads, rows = loss_and_grads(X, y_emo, y_cel, w, l2=0.3, celebrate_weight=1.5,
                                    activation=activation, mask=mask)
    eps = 1e-6
    for name, g in grads.items():
        full = np.zeros_like(w[name])
        if name == "W1":
            full[rows] = g
        else:
            full[...] = g
        for index in np.ndindex(w[name].shape):
            if name == "W1" and index[0] not in rows:
                continue
            old = w[name][index]
            w[name][index] = old + eps
            up = objective(X, y_emo, y_cel, w, rows, **kw)
            w[name][index] = old - eps
            down = objective(X, y_emo, y_cel, w, rows, **kw)
            w[name][index] = old
            assert full[index] == pytest.approx((up - down) / (2 * eps), abs=1e-6), (name, index)


@pytest.mark.parametrize("hidden, activation", [(0, "relu"), (8, "relu"), (8, "linear")])
def test_training_and_inference_agree(tiny_corpus, hidden, activation):
    golds = load_exchanges([tiny_corpus])
    model = train_model(golds, TrainConfig(hidden=hidden, activation=activation, epochs=3,
                                           min_count=1), progress=False)
    feats = [model.feature_ids(ex) for ex in golds]
    X = matrix.design_matrix([{model.vocab_list[i] for i in ids} for ids in feats], model.vocab,
                             model.idf)
    batch, _ = forward(X, model.weights, model.activation)
    one = np.stack([model._logits_one(ids) for ids in feats])
    np.testing.assert_allclose(one, batch, rtol=1e-4, atol=1e-5)
    emo, cel = model.predict_proba(golds)
    np.testing.assert_allclose(emo, model.calibration.probabilities(batch)[0], atol=1e-5)


def test_dropout_mask_keeps_the_expected_activation():
    from mood_tagger.training.optimiser import dropout_mask
    mask = dropout_mask(np.random.default_rng(0), (400, 500), 0.3)
    assert set(np.unique(mask)) == {0.0, np.float32(1 / 0.7)}
    assert mask.mean() == pytest.approx(1.0, abs=0.01) and (mask == 0).mean() == pytest.approx(0.3, abs=0.01)
    assert dropout_mask(np.random.default_rng(0), (3, 3), 0.0) is None


def test_adam_step_matches_the_published_update():
    """Kingma & Ba (2015), Algorithm 1, with bias correction, at t = 1 and t = 2."""
    opt, p = Adam(lr=0.1), np.array([1.0, -2.0])
    g1, g2 = np.array([0.5, -1.0]), np.array([0.1, 0.2])
    opt.t = 1
    opt.step("p", p, g1)
    np.testing.assert_allclose(p, [1.0 - 0.1, -2.0 + 0.1], atol=1e-6)   # m̂/√v̂ = sign(g) at t=1
    m = 0.9 * 0.1 * g1 + 0.1 * g2
    v = 0.999 * 0.001 * g1 ** 2 + 0.001 * g2 ** 2
    expected = p - 0.1 * (m / (1 - 0.9 ** 2)) / (np.sqrt(v / (1 - 0.999 ** 2)) + 1e-8)
    opt.t = 2
    opt.step("p", p, g2)
    np.testing.assert_allclose(p, expected, atol=1e-9)


def test_temperature_fit_finds_the_generating_temperature():
    """Labels drawn from softmax(z / 2.5) are best explained by temperature 2.5."""
    rng = np.random.default_rng(0)
    z = rng.standard_normal((20_000, 4)) * 3
    p = np.exp(z / 2.5) / np.exp(z / 2.5).sum(1, keepdims=True)
    y = np.array([rng.choice(4, p=row) for row in p])
    assert nll_temperature(z, y) == pytest.approx(2.5, rel=0.06)
    assert nll_temperature(z, z.argmax(1)) < 0.5              # always right: sharpen


def test_calibration_applies_temperatures_and_threshold():
    logits = np.array([[2.0] + [0.0] * (N_OUT - 3) + [0.0, 1.0]])
    cal = Calibration(emotion_temperature=2.0, celebrate_temperature=0.5, celebrate_threshold=0.9)
    emo, cel = cal.probabilities(logits)
    e2 = np.exp(1.0)
    assert emo[0, 0] == pytest.approx(e2 / (e2 + len(EMOTION_TAGS) - 1))
    assert cel[0] == pytest.approx(1 / (1 + np.exp(-2.0)))       # 0.881 < 0.9
    assert cal.celebrate(cel[0]) == "no" and Calibration().celebrate(cel[0]) == "yes"


def test_soft_targets_spread_ok_mass_and_change_the_model(tiny_corpus):
    from dataclasses import replace
    golds = load_exchanges([tiny_corpus])
    ex = replace(golds[0], emotion_name="proud", emotion_ok=("proud", "happy", "thats_right"))
    y = matrix.emotion_targets([ex], ok_mass=0.2)[0]
    assert y[EMOTION_TAGS.index("proud")] == pytest.approx(0.8)
    assert y[EMOTION_TAGS.index("happy")] == y[EMOTION_TAGS.index("thats_right")] == pytest.approx(0.1)
    widened = [replace(g, emotion_ok=tuple(EMOTION_TAGS)) for g in golds]
    cfg = TrainConfig(hidden=0, epochs=5, min_count=1)
    hard = train_model(widened, replace(cfg, ok_mass=0.0), progress=False)
    soft = train_model(widened, replace(cfg, ok_mass=0.5), progress=False)
    assert not np.allclose(hard.weights["W1"], soft.weights["W1"])


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86 OpenBLAS kernels")
def test_training_reproduces_whatever_blas_kernel_numpy_uses(tmp_path):
    code = textwrap.dedent("""
        import hashlib, json, sys
        import numpy as np
        from tests.conftest import TINY_ROWS, make_rows, write_jsonl
        from mood_tagger.data.jsonl import load_exchanges
        from mood_tagger.training import TrainConfig, train_model
        path = write_jsonl(__import__("pathlib").Path(sys.argv[1]), make_rows(TINY_ROWS * 6))
        m = train_model(load_exchanges([path]), TrainConfig(hidden=64, epochs=8, min_count=1),
                        progress=False)
        w = b"".join(np.ascontiguousarray(m.weights[k]).tobytes() for k in sorted(m.weights))
        print(hashlib.sha256(w).hexdigest(), json.dumps(m.config["calibration"]))
    """)
    outputs = set()
    for coretype in ("Prescott", "Haswell"):
        env = {"OPENBLAS_CORETYPE": coretype, "PATH": "/usr/bin:/bin"}
        out = subprocess.run([sys.executable, "-c", code, str(tmp_path / f"{coretype}.jsonl")],
                             capture_output=True, text=True, timeout=300, env=env, cwd=".")
        assert out.returncode == 0, out.stderr
        outputs.add(out.stdout)
    assert len(outputs) == 1, outputs
