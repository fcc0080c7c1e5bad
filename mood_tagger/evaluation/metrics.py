"""Metrics of LABELS.md: strict / lenient emotion accuracy, macro-F1, celebrate P/R/F1."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from mood_tagger.data.schema import Exchange
from mood_tagger.labels import EMOTION_TAGS


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else 0.0


def _f1(p: float, r: float) -> float:
    return _ratio(2 * p * r, p + r)


def per_tag(gold: Sequence[str | None], pred: Sequence[str]) -> dict[str, dict[str, float]]:
    out = {}
    for tag in EMOTION_TAGS:
        tp = sum(g == tag and p == tag for g, p in zip(gold, pred))
        n_pred = sum(p == tag for p in pred)
        n_gold = sum(g == tag for g in gold)
        prec, rec = _ratio(tp, n_pred), _ratio(tp, n_gold)
        out[tag] = {"precision": prec, "recall": rec, "f1": _f1(prec, rec), "support": n_gold}
    return out


def confusion(gold: Sequence[str], pred: Sequence[str]) -> np.ndarray:
    """Rows: gold tag, columns: predicted tag, in EMOTION_TAGS order."""
    m = np.zeros((len(EMOTION_TAGS), len(EMOTION_TAGS)), dtype=np.int64)
    for g, p in zip(gold, pred):
        m[EMOTION_TAGS.index(g), EMOTION_TAGS.index(p)] += 1
    return m


def _core(golds: Sequence[Exchange], emotions: Sequence[str], celebrates: Sequence[str]) -> dict:
    n = len(golds)
    gold_tags = [g.emotion_name for g in golds]
    tags = per_tag(gold_tags, emotions)
    present = [t for t in EMOTION_TAGS if tags[t]["support"] > 0]
    tp = sum(g.celebrate == "yes" and c == "yes" for g, c in zip(golds, celebrates))
    n_pred_yes = sum(c == "yes" for c in celebrates)
    n_gold_yes = sum(g.celebrate == "yes" for g in golds)
    prec, rec = _ratio(tp, n_pred_yes), _ratio(tp, n_gold_yes)
    return {
        "n": n,
        "emotion_strict": _ratio(sum(g == p for g, p in zip(gold_tags, emotions)), n),
        "emotion_lenient": _ratio(sum(p in (g.emotion_ok or (g.emotion_name,))
                                      for g, p in zip(golds, emotions)), n),
        "emotion_macro_f1": float(np.mean([tags[t]["f1"] for t in present])) if present else 0.0,
        "celebrate_accuracy": _ratio(sum(g.celebrate == c for g, c in zip(golds, celebrates)), n),
        "celebrate_precision": prec,
        "celebrate_recall": rec,
        "celebrate_f1": _f1(prec, rec),
    }


def latency_summary(latencies_ms: Sequence[float]) -> dict[str, float]:
    if not latencies_ms:
        return {}
    arr = np.asarray(latencies_ms, dtype=np.float64)
    return {"latency_ms_p50": float(np.percentile(arr, 50)),
            "latency_ms_p95": float(np.percentile(arr, 95)),
            "latency_ms_p99": float(np.percentile(arr, 99)),
            "latency_ms_mean": float(arr.mean())}


def expected_calibration_error(probability: Sequence[float] | np.ndarray, outcome: Sequence[bool] | np.ndarray,
                               bins: int = 10) -> float:
    """Mean |observed frequency - predicted probability| over equal-width probability bins,
    weighted by bin size (threshold-free)."""
    p = np.asarray(probability, dtype=np.float64)
    hit = np.asarray(outcome, dtype=np.float64)
    which = np.minimum((p * bins).astype(int), bins - 1)
    return float(sum(abs(hit[which == b].mean() - p[which == b].mean()) * (which == b).mean()
                     for b in range(bins) if (which == b).any()))


def calibration(golds: Sequence[Exchange], emotion_conf: Sequence[float],
                emotions: Sequence[str], celebrate_p: Sequence[float]) -> dict:
    """ECE of the top emotion's probability (vs. being emotion_name) and of P(celebrate = yes)
    (vs. the gold yes); Brier score of the latter."""
    y = np.array([g.celebrate == "yes" for g in golds], dtype=np.float64)
    p = np.asarray(celebrate_p, dtype=np.float64)
    return {"emotion_ece": expected_calibration_error(
                emotion_conf, [g.emotion_name == e for g, e in zip(golds, emotions)]),
            "celebrate_ece": expected_calibration_error(p, y == 1),
            "celebrate_brier": float(((p - y) ** 2).mean())}


def compute_metrics(golds: Sequence[Exchange], emotions: Sequence[str], celebrates: Sequence[str],
                    latencies_ms: Sequence[float] = ()) -> dict:
    """All metrics, overall and `by_lang`, plus `per_tag` precision/recall/F1."""
    if not (len(golds) == len(emotions) == len(celebrates)):
        raise ValueError("golds, emotions and celebrates must have the same length")
    result = _core(golds, emotions, celebrates)
    result.update(latency_summary(latencies_ms))
    result["per_tag"] = per_tag([g.emotion_name for g in golds], emotions)
    by_lang = {}
    for lang in sorted({g.lang or "unknown" for g in golds}):
        idx = [i for i, g in enumerate(golds) if (g.lang or "unknown") == lang]
        sub = _core([golds[i] for i in idx], [emotions[i] for i in idx],
                    [celebrates[i] for i in idx])
        sub.update(latency_summary([latencies_ms[i] for i in idx] if latencies_ms else []))
        by_lang[lang] = sub
    result["by_lang"] = by_lang
    return result
