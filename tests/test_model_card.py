"""What train_model writes into a model's config (the model card) and how it gets there: every
section and key, the calibration refitted from the split model's own predictions, progress
and log output, the input checks at their boundaries, and the float16 rounding."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import textwrap
from dataclasses import fields, replace

import numpy as np
import pytest

from mood_tagger import __version__
from mood_tagger.data.inputs import make_exchange
from mood_tagger.data.jsonl import load_exchanges
from mood_tagger.errors import InputError
from mood_tagger.features import FeatureConfig, extract
from mood_tagger.labels import EMOTION_TAGS
from mood_tagger.model import TaggerModel
from mood_tagger.training import TrainConfig, matrix, train_model
from mood_tagger.training.calibration import calibration_split, celebrate_threshold, nll_temperature
from mood_tagger.training.trainer import _fit
from tests.conftest import TINY_CONFIG

N_EMO = len(EMOTION_TAGS)
FAST = TrainConfig(hidden=0, epochs=2, min_count=1)


@pytest.fixture(scope="module")
def golds(tiny_corpus):
    return load_exchanges([tiny_corpus])


def test_the_model_card_has_every_section(golds):
    tiny_model = train_model(golds, TINY_CONFIG, name="tiny", progress=False)   # trained here, not shared
    config = tiny_model.config
    assert set(config) == {"name", "model", "features", "training", "corpus_hash", "calibration", "metrics"}
    assert config["name"] == "tiny" and config["metrics"] == {}
    assert config["model"] == {"kind": "sparse-ngram", "hidden": 0, "activation": "relu",
                               "weights_dtype": "float16"}
    assert config["features"] == TINY_CONFIG.features.to_dict()
    assert config["training"] == TINY_CONFIG.to_dict() | {
        "n_examples": len(golds), "n_features": len(tiny_model.vocab_list),
        "mood_tagger_version": __version__, "python": platform.python_version()}
    assert config["corpus_hash"] == matrix.corpus_hash(golds)
    cal, _ = calibration_split(golds, TINY_CONFIG.calibration_fraction, TINY_CONFIG.seed)
    assert set(config["calibration"]) == {"emotion_temperature", "celebrate_temperature", "held_out",
                                          "celebrate_threshold"}
    assert config["calibration"]["held_out"] == len(cal)


def test_train_config_to_dict_nests_the_feature_config():
    data = TrainConfig().to_dict()
    assert set(data) == {f.name for f in fields(TrainConfig)}
    assert data["features"] == FeatureConfig().to_dict()


def test_default_name(golds):
    assert train_model(golds, FAST, progress=False).name == "mood-tagger"


@pytest.mark.parametrize("activation", ["relu", "linear"])
def test_calibration_is_fitted_on_the_split_models_own_held_out_predictions(golds, activation):
    """Refit by hand through the inference path: the split model (trained on `fit`) predicts the
    held-out part; one temperature per head and the threshold come from those predictions."""
    cfg = TrainConfig(hidden=6, activation=activation, epochs=20, lr=0.02, min_count=1, dropout=0.0,
                      calibration_fraction=0.5, weights_dtype="float32")
    model = train_model(golds, cfg, progress=False)
    feats = [extract(ex, cfg.features) for ex in golds]
    vocab = {f: i for i, f in enumerate(model.vocab_list)}
    X = matrix.design_matrix(feats, vocab, model.idf)
    cal, fit = calibration_split(golds, cfg.calibration_fraction, cfg.seed)
    w = _fit(X[fit], matrix.emotion_targets(golds, cfg.ok_mass)[fit],
             matrix.celebrate_soft_targets(golds)[fit], cfg, "", False)
    split = TaggerModel(dict(model.config, calibration={}), model.vocab_list, w | {"idf": model.idf})
    logits = np.stack([split._logits_one(split.feature_ids(golds[i])) for i in cal])
    hard = np.array([EMOTION_TAGS.index(golds[i].emotion_name) for i in cal])
    y_cel = matrix.celebrate_targets(golds)[cal]
    got = model.config["calibration"]
    assert got["emotion_temperature"] == nll_temperature(logits[:, :N_EMO], hard)
    assert got["celebrate_temperature"] == nll_temperature(logits[:, N_EMO:], y_cel)
    with_t = replace(split.calibration, celebrate_temperature=got["celebrate_temperature"])
    p_yes = with_t.probabilities(logits)[1]
    assert got["celebrate_threshold"] == celebrate_threshold(p_yes, y_cel, cfg.celebrate_target_precision,
                                                             cfg.celebrate_target_recall)


def test_relu_and_linear_hidden_layers_train_differently(golds):
    relu = train_model(golds, TrainConfig(hidden=6, epochs=3, min_count=1), progress=False)
    linear = train_model(golds, TrainConfig(hidden=6, epochs=3, min_count=1, activation="linear"),
                         progress=False)
    assert linear.activation == "linear" and linear.config["model"]["activation"] == "linear"
    assert not np.allclose(relu.weights["W1"], linear.weights["W1"])


def test_calibration_is_reproducible(golds):
    cfg = replace(FAST, calibration_fraction=0.4, epochs=3)
    assert train_model(golds, cfg, progress=False).config["calibration"] == \
        train_model(golds, cfg, progress=False).config["calibration"]


def test_progress_bars_only_when_asked_and_by_default(golds):
    train_model(golds, FAST, progress=False)           # in this process too, so mutmut maps the test
    """In a fresh interpreter (tqdm's lock and monitor thread stay out of this process), with
    stderr a pipe: progress=False writes nothing, the default draws the feature and training bars."""
    rows = [[g.user_last_message, g.pika_response, g.emotion_name, g.celebrate] for g in golds]
    code = textwrap.dedent("""
        import json, sys
        from mood_tagger.data.schema import Exchange
        from mood_tagger.training import TrainConfig, train_model
        rows = json.loads(sys.argv[1])
        exchanges = [Exchange(u, p, emotion_name=e, emotion_ok=(e,), celebrate=c) for u, p, e, c in rows]
        train_model(exchanges, TrainConfig(hidden=0, epochs=2, min_count=1), progress=False)
        print("<quiet end>", file=sys.stderr, flush=True)
        train_model(exchanges, TrainConfig(hidden=0, epochs=2, min_count=1))
    """)
    out = subprocess.run([sys.executable, "-c", code, json.dumps(rows)], capture_output=True, text=True,
                         timeout=120, cwd=".")
    assert out.returncode == 0, out.stderr
    quiet, shown = out.stderr.split("<quiet end>\n")
    assert not any(word in quiet for word in ("features", "train (", "epoch", "%|"))
    assert all(bar in shown for bar in ("features", "train (calibration split)", "train (all data)"))


def test_log_reports_the_corpus_size_and_the_calibration(golds):
    lines: list[str] = []
    model = train_model(golds, FAST, progress=False, log=lines.append)
    assert lines[0] == f"{len(golds)} exchanges, {len(model.vocab_list)} features"
    assert lines[1].startswith("calibration: {") and "celebrate_threshold" in lines[1]


def test_unlabelled_lines_are_named_and_four_lines_are_enough(golds):
    mixed = list(golds[:5])
    mixed.insert(3, make_exchange("a", "b"))
    with pytest.raises(InputError, match=r"^1 exchanges have no labels \(first: #3\)"):
        train_model(mixed, FAST, progress=False)
    assert len(train_model(golds[:4], FAST, progress=False).vocab_list) > 0


def test_max_features_caps_the_vocabulary(golds):
    model = train_model(golds, replace(FAST, max_features=10), progress=False)
    assert len(model.vocab_list) == 10 and model.config["training"]["n_features"] == 10


def test_float16_rounds_the_matrices_only(golds):
    cfg = TrainConfig(hidden=6, epochs=3, min_count=1)
    half = train_model(golds, cfg, progress=False)
    for k in ("W1", "W2"):
        np.testing.assert_array_equal(half.weights[k], half.weights[k].astype(np.float16).astype(np.float32))
    for k in ("b1", "b2", "idf"):
        assert not np.array_equal(half.weights[k], half.weights[k].astype(np.float16).astype(np.float32)), k
    full = train_model(golds, replace(cfg, weights_dtype="float32"), progress=False)
    assert not np.array_equal(full.weights["W1"], full.weights["W1"].astype(np.float16).astype(np.float32))
