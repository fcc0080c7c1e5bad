"""Teacher probabilities (`label --soft`): validated on load, used as training targets by the
n-gram trainer, ignored by calibration."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from mood_tagger.data.jsonl import load_exchanges, parse_record
from mood_tagger.errors import DataError
from mood_tagger.labels import EMOTION_TAGS
from mood_tagger.training import TrainConfig, matrix, train_model

LINE = {"id": "s-1", "user_last_message": "bốn", "pika_response": "Đúng rồi!",
        "emotion_name": "proud", "emotion_ok": ["proud"], "celebrate": "yes"}


@pytest.mark.parametrize("field, value", [
    ("teacher_emotion_p", {"proud": 1.5}), ("teacher_emotion_p", {"joy": 0.5}),
    ("teacher_emotion_p", {}), ("teacher_emotion_p", [0.5, 0.5]), ("teacher_emotion_p", {"proud": 0}),
    ("teacher_celebrate_p", -0.1), ("teacher_celebrate_p", "0.9"), ("teacher_celebrate_p", True),
    ("teacher_celebrate_p", float("nan"))])
def test_malformed_teacher_fields_are_refused_with_the_field_named(field, value):
    with pytest.raises(DataError) as err:
        parse_record(LINE | {field: value}, path="soft.jsonl", line=3)
    assert err.value.field == field and "soft.jsonl" in str(err.value)


def test_teacher_distribution_replaces_the_emotion_targets_and_is_renormalised():
    ex = parse_record(LINE | {"teacher_emotion_p": {"proud": 0.6, "thats_right": 0.2}})
    y = matrix.emotion_targets([ex], ok_mass=0.3)[0]
    assert y[EMOTION_TAGS.index("proud")] == pytest.approx(0.75)
    assert y[EMOTION_TAGS.index("thats_right")] == pytest.approx(0.25)
    assert y.sum() == pytest.approx(1.0)


def test_teacher_celebrate_p_is_the_training_target_but_not_the_calibration_label():
    soft = parse_record(LINE | {"teacher_celebrate_p": 0.8})
    hard = parse_record(LINE | {"celebrate": "no", "emotion_name": "calm", "emotion_ok": ["calm"]})
    np.testing.assert_allclose(matrix.celebrate_soft_targets([soft, hard]), [0.8, 0.0])
    np.testing.assert_array_equal(matrix.celebrate_targets([soft, hard]), [1, 0])


def test_soft_targets_are_what_the_trainer_fits(tiny_corpus):
    golds = load_exchanges([tiny_corpus])
    cfg = TrainConfig(hidden=0, epochs=5, min_count=1, ok_mass=0.0)
    hard = train_model(golds, cfg, progress=False)
    # a teacher that agrees exactly with the hard labels gives exactly the hard-label model
    same = [replace(g, extra=g.extra | {"teacher_emotion_p": {g.emotion_name: 1.0},
                                        "teacher_celebrate_p": float(g.celebrate == "yes")})
            for g in golds]
    np.testing.assert_array_equal(train_model(same, cfg, progress=False).weights["W1"], hard.weights["W1"])
    for field, value in [("teacher_celebrate_p", 0.5), ("teacher_emotion_p", {t: 1.0 for t in EMOTION_TAGS})]:
        other = [replace(g, extra=g.extra | {field: value}) for g in golds]
        assert not np.allclose(train_model(other, cfg, progress=False).weights["W1"], hard.weights["W1"]), field


def test_a_soft_labelled_file_round_trips_through_the_loader(tmp_path):
    path = tmp_path / "soft.jsonl"
    line = LINE | {"teacher_emotion_p": {"proud": 0.9, "happy": 0.1}, "teacher_celebrate_p": 0.97}
    path.write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")
    (ex,) = load_exchanges([path])
    assert ex.to_json()["teacher_celebrate_p"] == 0.97
