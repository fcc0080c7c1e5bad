"""Calibration, fitted (training/calibration.py) and applied (model/calibration.py): softmax
row by row, the defaults of a config without calibration, the threshold boundary, the
temperature fit on soft targets, the threshold grid and its edges, and the held-out split."""

from __future__ import annotations

import numpy as np
import pytest

from mood_tagger.data.schema import Exchange
from mood_tagger.model.calibration import Calibration, softmax
from mood_tagger.training.calibration import (TEMPERATURES, calibration_split, celebrate_threshold,
                                              nll_temperature)


def test_softmax_is_taken_row_by_row_and_on_a_single_vector():
    z = np.array([[1000.0, 999.0], [0.0, -1.0]])          # very different scales per row
    p = softmax(z)
    expected = np.exp([0.0, -1.0]) / np.exp([0.0, -1.0]).sum()
    np.testing.assert_allclose(p, [expected, expected])
    np.testing.assert_allclose(softmax(np.array([0.0, -1.0])), expected)


def test_calibration_defaults_when_a_config_has_none():
    assert Calibration.from_config({}) == Calibration(1.0, 1.0, 0.5)
    partial = Calibration.from_config({"calibration": {"celebrate_threshold": "0.7"}})
    assert partial == Calibration(emotion_temperature=1.0, celebrate_temperature=1.0,
                                  celebrate_threshold=0.7)
    only_emotion = Calibration.from_config({"calibration": {"emotion_temperature": 2}})
    assert only_emotion == Calibration(2.0, 1.0, 0.5)
    only_celebrate = Calibration.from_config({"calibration": {"celebrate_temperature": 3}})
    assert only_celebrate == Calibration(1.0, 3.0, 0.5)


def test_celebrate_at_exactly_the_threshold_is_yes():
    cal = Calibration(celebrate_threshold=0.625)
    assert cal.celebrate(0.625) == "yes" and cal.celebrate(np.nextafter(0.625, 0)) == "no"


def test_temperature_fit_on_soft_targets_finds_their_temperature():
    """Soft targets softmax(z / 2.5): the cross-entropy is smallest at T = 2.5, so the fit is one
    of the two grid temperatures around it; a row whose probabilities underflow to 0 is fine."""
    rng = np.random.default_rng(0)
    z = np.vstack([rng.standard_normal((300, 5)) * 3, [[200.0, -200.0, 0.0, 0.0, 0.0]]])
    q = softmax(z / 2.5)
    below, above = TEMPERATURES[TEMPERATURES <= 2.5].max(), TEMPERATURES[TEMPERATURES > 2.5].min()
    assert nll_temperature(z, q) in (below, above)
    assert nll_temperature(z, softmax(z / 0.5)) < 0.6 and nll_temperature(z, softmax(z / 4.0)) > 3.5


def test_temperature_fit_keeps_the_neutral_temperature_without_information():
    assert nll_temperature(np.full((4, 3), np.nan), np.array([0, 1, 2, 0])) == 1.0


def grid(high: float = 0.8) -> np.ndarray:
    return np.round(np.arange(0.20, high + 0.001, 0.025), 3)


def test_threshold_is_the_middle_of_a_plateau_off_centre():
    """Every threshold in (0.6, 0.8] separates perfectly; the middle of those grid points."""
    p_yes = np.array([0.1, 0.3, 0.6, 0.8, 0.9, 0.95])
    y = np.array([0, 0, 0, 1, 1, 1])
    plateau = grid()[(grid() > 0.6) & (grid() <= 0.8)]
    assert celebrate_threshold(p_yes, y, 0.95, 0.93) == pytest.approx(plateau[len(plateau) // 2])
    assert plateau[-1] == pytest.approx(0.8)                       # the grid includes `high`


def test_threshold_stays_at_or_below_high():
    """Positives at 0.95+ and negatives at 0.85: the separating thresholds lie above `high`."""
    p_yes = np.array([0.83, 0.84, 0.85, 0.95, 0.96, 0.97])
    y = np.array([0, 0, 0, 1, 1, 1])
    assert 0.2 <= celebrate_threshold(p_yes, y, 0.95, 0.93) <= 0.8
    assert celebrate_threshold(p_yes, y, 0.95, 0.93, high=0.95) > 0.85


def test_threshold_with_only_positives_or_only_negatives_held_out():
    all_yes = celebrate_threshold(np.array([0.3, 0.5, 0.9]), np.array([1, 1, 1]), 0.95, 0.93)
    low = grid()[grid() <= 0.3]                                     # precision and recall 1
    assert all_yes == pytest.approx(low[len(low) // 2])
    no_yes = celebrate_threshold(np.array([0.1, 0.5, 0.9]), np.array([0, 0, 0]), 0.95, 0.93)
    assert 0.2 <= no_yes <= 0.8                                     # defined, no division by zero


def exchanges(n_groups: int, copies: int = 2) -> list[Exchange]:
    out = []
    for g in range(n_groups):
        out.append(Exchange(f"u{g}", f"p{g}", id=f"src-{g}"))
        out += [Exchange(f"u{g}!", f"p{g}", id=f"aug-{g}-{c}", extra={"augmented_from": f"src-{g}"})
                for c in range(copies - 1)]
    return out


def test_calibration_split_is_seeded_and_sized_by_source_items():
    data = exchanges(40)
    cal, fit = calibration_split(data, 0.5, seed=3)
    again = calibration_split(data, 0.5, seed=3)
    np.testing.assert_array_equal(cal, again[0])
    np.testing.assert_array_equal(fit, again[1])
    held = {data[i].extra.get("augmented_from") or data[i].id for i in cal}
    assert len(held) == 20 and len(cal) == 40 and len(fit) == 40
    others = [calibration_split(data, 0.5, seed=s)[0] for s in range(4, 8)]
    assert any(not np.array_equal(cal, o) for o in others)
    assert len(calibration_split(exchanges(14, copies=1), 0.01, seed=0)[0]) == 1   # at least one


def test_calibration_split_returns_integer_indices_even_when_one_side_is_empty():
    data = exchanges(3, copies=1)
    cal, fit = calibration_split(data, 1.0, seed=0)
    assert sorted(cal.tolist()) == [0, 1, 2] and fit.size == 0
    values = np.arange(3)
    assert values[fit].size == 0 and values[cal].size == 3
