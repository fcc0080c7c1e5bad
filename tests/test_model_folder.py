"""The n-gram model's folder and its in-memory form: what save writes (kind, labels, float16
matrices), what load refuses and how it says so, load_model's dispatch on `kind`, and the
shapes and defaults of predict."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mood_tagger.data.jsonl import load_exchanges
from mood_tagger.errors import ModelError
from mood_tagger.labels import CELEBRATE_VALUES, EMOTION_TAGS
from mood_tagger.model import TaggerModel
from mood_tagger.model.protocol import load_model, model_kind, read_config, to_predictions
from mood_tagger.training import TrainConfig, train_model


@pytest.fixture(scope="module")
def golds(tiny_corpus):
    return load_exchanges([tiny_corpus])


@pytest.fixture(scope="module")
def mlp(golds):
    """A ReLU model with a hidden layer, stored as float16 (the shipped design)."""
    return train_model(golds, TrainConfig(hidden=8, epochs=3, min_count=1, weights_dtype="float16"),
                       progress=False)


def saved_config(folder) -> dict:
    return json.loads((folder / "config.json").read_text(encoding="utf-8"))


def test_save_creates_nested_folders_and_overwrites(tiny_model, tmp_path):
    folder = tiny_model.save(tmp_path / "a" / "b" / "model")
    assert folder == tmp_path / "a" / "b" / "model"
    assert tiny_model.save(folder) == folder                    # saving again over it is fine
    config = saved_config(folder)
    assert config["kind"] == "sparse-ngram" and config["format_version"] == 1
    assert config["labels"] == {"emotion": list(EMOTION_TAGS), "celebrate": list(CELEBRATE_VALUES)}
    assert isinstance(load_model(folder), TaggerModel)


def test_float16_models_store_matrices_in_half_precision(mlp, tiny_model, tmp_path):
    with np.load(mlp.save(tmp_path / "mlp") / "weights.npz") as npz:
        dtypes = {k: npz[k].dtype for k in npz.files}
    assert dtypes == {"W1": np.float16, "W2": np.float16, "b1": np.float32, "b2": np.float32,
                      "idf": np.float32}
    model = TaggerModel(dict(tiny_model.config, model=dict(tiny_model.config["model"],
                                                           weights_dtype="float32")),
                        tiny_model.vocab_list, tiny_model.weights)
    with np.load(model.save(tmp_path / "f32") / "weights.npz") as npz:
        assert {npz[k].dtype for k in npz.files} == {np.dtype(np.float32)}


def test_a_loaded_model_computes_in_float32(mlp, tmp_path):
    loaded = TaggerModel.load(mlp.save(tmp_path / "mlp"))
    assert {v.dtype for v in loaded.weights.values()} == {np.dtype(np.float32)}
    as64 = TaggerModel(mlp.config, mlp.vocab_list, {k: v.astype(np.float64) for k, v in mlp.weights.items()})
    assert {v.dtype for v in as64.weights.values()} == {np.dtype(np.float32)}


def test_activation_defaults_to_relu_when_the_config_does_not_say(mlp, golds):
    def with_model(**model_cfg) -> TaggerModel:
        model = {k: v for k, v in mlp.config["model"].items() if k != "activation"} | model_cfg
        return TaggerModel(dict(mlp.config, model=model), mlp.vocab_list, mlp.weights)
    relu = mlp.predict_proba(golds)[0]
    assert not np.allclose(with_model(activation="linear").predict_proba(golds)[0], relu)
    np.testing.assert_array_equal(with_model().predict_proba(golds)[0], relu)


def test_vocab_and_weights_of_different_sizes_are_refused_with_both_counts(tiny_model):
    n = len(tiny_model.vocab_list)
    with pytest.raises(ModelError, match=f"weights have {n} feature rows but vocab.json has {n - 1} entries"):
        TaggerModel(tiny_model.config, tiny_model.vocab_list[:-1], tiny_model.weights)


def test_load_names_the_missing_files(tiny_model_path, tmp_path):
    (tmp_path / "config.json").write_text((tiny_model_path / "config.json").read_text())
    with pytest.raises(ModelError, match=r"missing vocab\.json, weights\.npz"):
        TaggerModel.load(tmp_path)


def copy_model(src, dst):
    dst.mkdir()
    for name in ("config.json", "vocab.json", "weights.npz"):
        (dst / name).write_bytes((src / name).read_bytes())
    return dst


def test_load_refuses_unreadable_files_and_pickles(tiny_model_path, tmp_path):
    broken = copy_model(tiny_model_path, tmp_path / "broken")
    (broken / "vocab.json").write_text("[not json")
    with pytest.raises(ModelError, match="cannot read model files"):
        TaggerModel.load(broken)
    pickled = copy_model(tiny_model_path, tmp_path / "pickled")
    with np.load(tiny_model_path / "weights.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["extra"] = np.array([{"code": "would run on load"}], dtype=object)
    np.savez(pickled / "weights.npz", **arrays)
    with pytest.raises(ModelError, match="cannot read model files"):
        TaggerModel.load(pickled)


def test_load_refuses_other_formats_and_incomplete_weights(tiny_model_path, tmp_path):
    future = copy_model(tiny_model_path, tmp_path / "future")
    (future / "config.json").write_text(json.dumps(saved_config(future) | {"format_version": 99}))
    with pytest.raises(ModelError, match="model format 99, this version reads format 1"):
        TaggerModel.load(future)
    partial = copy_model(tiny_model_path, tmp_path / "partial")
    with np.load(partial / "weights.npz") as npz:
        arrays = {k: npz[k] for k in npz.files if k != "W1"}
    np.savez(partial / "weights.npz", **arrays)
    with pytest.raises(ModelError, match="lacks 'W1'"):
        TaggerModel.load(partial)


def test_load_without_a_path_is_the_shipped_default():
    assert TaggerModel.load().name == "default"


def test_read_config_checks_the_labels(tiny_model_path, tmp_path):
    with pytest.raises(ModelError, match="missing config.json"):
        read_config(tmp_path)
    config = saved_config(tiny_model_path)

    def check(cfg):
        (tmp_path / "config.json").write_text(json.dumps(cfg) if isinstance(cfg, dict) else cfg)
        return read_config(tmp_path)
    with pytest.raises(ModelError, match="cannot read"):
        check("{oops")
    with pytest.raises(ModelError, match="emotion labels differ"):
        check({k: v for k, v in config.items() if k != "labels"})
    with pytest.raises(ModelError, match="emotion labels differ"):
        check(config | {"labels": {"emotion": list(EMOTION_TAGS)[::-1]}})
    with pytest.raises(ModelError, match=r"celebrate labels must be \['no', 'yes'\]"):
        check(config | {"labels": {"emotion": list(EMOTION_TAGS), "celebrate": ["yes", "no"]}})
    assert check(config | {"labels": {"emotion": list(EMOTION_TAGS)}})["name"] == config["name"]


def test_load_model_dispatches_on_kind(tiny_model_path, tmp_path):
    assert model_kind({"kind": "encoder", "model": {"kind": "sparse-ngram"}}) == "encoder"
    assert model_kind({"model": {"kind": "encoder"}}) == "encoder"
    assert model_kind({}) == model_kind({"model": {}}) == "sparse-ngram"
    assert isinstance(load_model(), TaggerModel) and load_model().name == "default"
    assert load_model(tiny_model_path).name == "tiny"
    odd = copy_model(tiny_model_path, tmp_path / "odd")
    (odd / "config.json").write_text(json.dumps(saved_config(odd) | {"kind": "rules"}))
    with pytest.raises(ModelError, match=r"unknown model kind 'rules'; this version reads \['encoder'"):
        load_model(odd)


def test_predict_shapes_and_top_k(tiny_model, golds):
    emo, cel = tiny_model.predict_proba([])
    assert emo.shape == (0, len(EMOTION_TAGS)) and cel.shape == (0,)
    one_emo, one_cel = tiny_model.predict_proba(golds[:1])
    assert emo.dtype == one_emo.dtype and cel.dtype == one_cel.dtype
    assert tiny_model.predict([]) == []
    pred = tiny_model.predict(golds[:2])
    assert [len(p.emotion_top) for p in pred] == [3, 3]
    top5 = tiny_model.predict(golds[:1], top_k=5)[0]
    assert len(top5.emotion_top) == 5 and top5.emotion_top[:3] == pred[0].emotion_top
    probs = [p for _, p in top5.emotion_top]
    assert probs == sorted(probs, reverse=True) and top5.emotion_name == top5.emotion_top[0][0]
    assert top5.celebrate_p == pytest.approx(float(one_cel[0]))
    emo, cel = tiny_model.predict_proba(golds[:2])
    assert [len(p.emotion_top) for p in to_predictions(emo, cel, tiny_model.calibration)] == [3, 3]


def test_predict_one_is_the_first_of_a_batch_of_one(tiny_model, golds):
    assert tiny_model.predict_one(golds[3]) == tiny_model.predict(golds[3:4])[0]
    assert tiny_model.predict_one(golds[3]) != tiny_model.predict_one(golds[7])
