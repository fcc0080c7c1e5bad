"""Run a backend or a model over labelled exchanges, one at a time, timing each call."""

from __future__ import annotations

import time
from typing import Sequence

from tqdm.auto import tqdm

from mood_tagger.data.schema import Exchange
from mood_tagger.evaluation.metrics import calibration, compute_metrics

WARMUP = 20


def evaluate_backend(backend, golds: Sequence[Exchange], *, progress: bool = True,
                     deadline_ms: float | None = None):
    """(metrics, results); latency is per exchange, in process, after a warm-up."""
    for ex in golds[:WARMUP]:
        backend.tag(ex, deadline_ms)
    results, latencies = [], []
    for ex in tqdm(golds, desc="eval", unit="ex", disable=not progress, leave=False):
        start = time.perf_counter()
        results.append(backend.tag(ex, deadline_ms))
        latencies.append((time.perf_counter() - start) * 1000)
    emotions = [r.emotion_name for r in results]
    metrics = compute_metrics(golds, emotions, [r.celebrate for r in results], latencies)
    if all(r.celebrate_p is not None and r.emotion_top for r in results):
        metrics.update(calibration(golds, [r.emotion_top[0][1] for r in results], emotions,
                                   [r.celebrate_p for r in results]))
    return metrics, results


def evaluate_model(model, golds: Sequence[Exchange], *, progress: bool = False) -> dict:
    from mood_tagger.backends.classifier import ClassifierBackend

    return evaluate_backend(ClassifierBackend(model), golds, progress=progress)[0]
