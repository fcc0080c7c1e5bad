"""Real training runs on a tiny corpus: the model learns, is reproducible and round-trips."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mood_tagger.data.inputs import make_exchange
from mood_tagger.data.jsonl import load_exchanges
from mood_tagger.errors import InputError, ModelError
from mood_tagger.labels import EMOTION_TAGS
from mood_tagger.model import TaggerModel
from mood_tagger.training import TrainConfig, train_model
from tests.conftest import TINY_CONFIG


def test_tiny_model_learns_its_training_data(tiny_model, tiny_corpus):
    golds = load_exchanges([tiny_corpus])
    preds = tiny_model.predict(golds)
    emotion_acc = np.mean([p.emotion_name == g.emotion_name for p, g in zip(preds, golds)])
    celebrate_acc = np.mean([p.celebrate == g.celebrate for p, g in zip(preds, golds)])
    assert emotion_acc >= 0.9
    assert celebrate_acc >= 0.9


def test_tiny_model_generalises_to_unseen_wording(tiny_model):
    right = make_exchange("Con cá sống dưới nước", "Chính xác! Con giỏi lắm.")
    wrong = make_exchange("5 cộng 1 bằng 7", "Chưa đúng rồi, thử lại nhé!")
    p_right, p_wrong = tiny_model.predict([right, wrong])
    assert p_right.celebrate_p > p_wrong.celebrate_p
    assert p_wrong.emotion_name == "encouraging"


def test_probabilities_are_distributions(tiny_model, tiny_corpus):
    emo, cel = tiny_model.predict_proba(load_exchanges([tiny_corpus]))
    assert emo.shape == (14, len(EMOTION_TAGS))
    np.testing.assert_allclose(emo.sum(axis=1), 1.0, rtol=1e-5)
    assert ((cel >= 0) & (cel <= 1)).all()


def test_save_load_round_trip_gives_identical_predictions(tiny_model, tiny_corpus, tmp_path):
    path = tiny_model.save(tmp_path / "m")
    loaded = TaggerModel.load(path)
    golds = load_exchanges([tiny_corpus])
    emo_a, cel_a = tiny_model.predict_proba(golds)
    emo_b, cel_b = loaded.predict_proba(golds)
    np.testing.assert_array_equal(emo_a, emo_b)
    np.testing.assert_array_equal(cel_a, cel_b)
    config = json.loads((path / "config.json").read_text())
    assert config["labels"]["emotion"] == list(EMOTION_TAGS)
    assert config["corpus_hash"].startswith("sha256:")
    assert config["training"]["epochs"] == TINY_CONFIG.epochs


def test_training_is_reproducible(tiny_corpus):
    golds = load_exchanges([tiny_corpus])
    cfg = TrainConfig(hidden=8, epochs=5, min_count=1)
    a = train_model(golds, cfg, progress=False)
    b = train_model(golds, cfg, progress=False)
    np.testing.assert_array_equal(a.weights["W1"], b.weights["W1"])


def test_hidden_layer_model_trains_and_round_trips(tiny_corpus, tmp_path):
    golds = load_exchanges([tiny_corpus])
    model = train_model(golds, TrainConfig(hidden=16, epochs=80, lr=0.03, min_count=1, dropout=0.0,
                                           weights_dtype="float16"),
                        progress=False)
    acc = np.mean([p.emotion_name == g.emotion_name for p, g in zip(model.predict(golds), golds)])
    assert acc >= 0.85
    loaded = TaggerModel.load(model.save(tmp_path / "mlp"))
    np.testing.assert_array_equal(model.predict_proba(golds)[0], loaded.predict_proba(golds)[0])


def test_training_refuses_unlabelled_or_tiny_data(tiny_corpus):
    with pytest.raises(InputError, match="at least 4"):
        train_model(load_exchanges([tiny_corpus])[:2], progress=False)
    unlabelled = [make_exchange("a", "b")] * 5
    with pytest.raises(InputError, match="no labels"):
        train_model(unlabelled, progress=False)


def test_loading_a_non_model_folder_says_how_to_fix(tmp_path):
    with pytest.raises(ModelError, match="mood-tagger train"):
        TaggerModel.load(tmp_path)


def test_celebrate_threshold_is_the_middle_of_the_best_plateau():
    from mood_tagger.training.calibration import celebrate_threshold as _celebrate_threshold

    p_yes = np.array([0.1, 0.2, 0.35, 0.6, 0.9, 0.95])
    y = np.array([0, 0, 0, 1, 1, 1])
    # every threshold in (0.35, 0.6] separates perfectly: 0.375 … 0.6, middle 0.5
    assert _celebrate_threshold(p_yes, y, 0.95, 0.93) == 0.5
    # a positive at 0.3 among negatives: recall needs t <= 0.3, precision t > 0.35 → balance
    p_yes = np.array([0.1, 0.25, 0.3, 0.4, 0.45, 0.9, 0.95, 0.97])
    y = np.array([0, 0, 1, 0, 0, 1, 1, 1])
    assert 0.3 < _celebrate_threshold(p_yes, y, 0.95, 0.93) <= 0.8


def test_calibration_split_keeps_augmented_copies_with_their_source(tiny_corpus):
    from mood_tagger.data.augment import augment
    from mood_tagger.training.calibration import calibration_split as _calibration_split

    source = load_exchanges([tiny_corpus])
    everything = source + augment(source, seed=2)
    cal, fit = _calibration_split(everything, 0.3, seed=5)
    assert len(cal) and len(fit) and len(cal) + len(fit) == len(everything)
    group = lambda ex: ex.extra.get("augmented_from") or ex.id  # noqa: E731
    assert not {group(everything[i]) for i in cal} & {group(everything[i]) for i in fit}


def test_saved_calibration_is_what_the_model_applies(tiny_model, tiny_corpus, tmp_path):
    """Temperatures and the threshold in config.json change the answers as documented."""
    golds = load_exchanges([tiny_corpus])
    folder = tiny_model.save(tmp_path / "m")
    config = json.loads((folder / "config.json").read_text())
    emo, cel = TaggerModel.load(folder).predict_proba(golds)
    config["calibration"].update(emotion_temperature=config["calibration"]["emotion_temperature"] * 4,
                                 celebrate_threshold=float(np.median(cel)) + 1e-6)
    (folder / "config.json").write_text(json.dumps(config))
    changed = TaggerModel.load(folder)
    emo2, cel2 = changed.predict_proba(golds)
    np.testing.assert_allclose(cel2, cel, atol=1e-6)
    assert emo2.max(1).mean() < emo.max(1).mean()                        # flatter
    assert [p.celebrate == "yes" for p in changed.predict(golds)] == list(cel2 >= np.median(cel) + 1e-6)
