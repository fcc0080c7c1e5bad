"""Metrics checked against a hand-computed example."""

from __future__ import annotations

import pytest

from mood_tagger.data.schema import Exchange
from mood_tagger.evaluation.metrics import compute_metrics, confusion


def ex(tag, ok, cel, lang="vi"):
    return Exchange("u", "p", emotion_name=tag, emotion_ok=tuple(ok), celebrate=cel, lang=lang)


def test_hand_computed_example():
    golds = [ex("proud", ["proud", "thats_right"], "yes"),
             ex("happy", ["happy"], "no"),
             ex("sad", ["sad"], "no", "en"),
             ex("proud", ["proud"], "yes", "en")]
    emotions = ["thats_right", "happy", "worry", "proud"]
    celebrates = ["yes", "yes", "no", "no"]
    m = compute_metrics(golds, emotions, celebrates, latencies_ms=[1.0, 2.0, 3.0, 4.0])
    assert m["n"] == 4
    assert m["emotion_strict"] == pytest.approx(2 / 4)       # happy, proud
    assert m["emotion_lenient"] == pytest.approx(3 / 4)      # + thats_right in ok
    # celebrate: tp = 1 (first), predicted yes = 2, gold yes = 2
    assert m["celebrate_precision"] == pytest.approx(0.5)
    assert m["celebrate_recall"] == pytest.approx(0.5)
    assert m["celebrate_f1"] == pytest.approx(0.5)
    assert m["celebrate_accuracy"] == pytest.approx(2 / 4)
    # macro-F1 over gold tags present (proud, happy, sad): proud P=1 R=.5 F=2/3, happy 1, sad 0
    assert m["emotion_macro_f1"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert m["latency_ms_p50"] == pytest.approx(2.5)
    assert m["by_lang"]["en"]["emotion_strict"] == pytest.approx(0.5)
    assert m["by_lang"]["vi"]["celebrate_precision"] == pytest.approx(0.5)
    assert m["per_tag"]["proud"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3),
                                     "support": 2}


def test_confusion_rows_are_gold():
    m = confusion(["sad", "sad"], ["sad", "worry"])
    assert m.sum() == 2 and m[8, 8] == 1 and m[8, 10] == 1


def test_expected_calibration_error_by_hand():
    from mood_tagger.evaluation.metrics import expected_calibration_error

    # bin 0.9: two items, one right → |0.5 - 0.9| = 0.4, weight 1/2; bin 0.6: one right → 0.4, weight 1/4;
    # bin 0.3: one wrong → 0.3, weight 1/4
    ece = expected_calibration_error([0.9, 0.9, 0.6, 0.3], [True, False, True, False])
    assert ece == pytest.approx(0.4 * 0.5 + 0.4 * 0.25 + 0.3 * 0.25)
