"""Run a backend or a model over labelled exchanges, one at a time, timing each call."""

from __future__ import annotations

import time
from collections import Counter
from typing import Sequence

from tqdm.auto import tqdm

from mood_tagger.data.schema import Exchange
from mood_tagger.errors import BackendError
from mood_tagger.evaluation.metrics import calibration, compute_metrics

WARMUP = 20


def evaluate_backend(backend, golds: Sequence[Exchange], *, progress: bool = True,
                     deadline_ms: float | None = None):
    """(metrics, results); latency is per exchange, in process, after a warm-up.

    An exchange the backend fails on (e.g. an LLM timeout) is left out of the metrics and
    counted under `failures` by kind, so one bad answer does not end a long comparison.
    """
    warmup = WARMUP if backend.name == "classifier" else 0  # no extra calls to a paid LLM
    for ex in golds[:warmup]:
        backend.tag(ex, deadline_ms)
    answered, results, latencies = [], [], []
    failures: Counter[str] = Counter()
    for ex in tqdm(golds, desc="eval", unit="ex", disable=not progress, leave=False):
        start = time.perf_counter()
        try:
            result = backend.tag(ex, deadline_ms)
        except BackendError as exc:
            failures[exc.kind] += 1
            continue
        latencies.append((time.perf_counter() - start) * 1000)
        answered.append(ex)
        results.append(result)
    if not results:
        raise BackendError(f"the backend answered none of the {len(golds)} exchanges "
                           f"(failures: {dict(failures)}); check its settings")
    emotions = [r.emotion_name for r in results]
    metrics = compute_metrics(answered, emotions, [r.celebrate for r in results], latencies)
    if all(r.celebrate_p is not None and r.emotion_top for r in results):
        metrics.update(calibration(answered, [r.emotion_top[0][1] for r in results], emotions,
                                   [r.celebrate_p for r in results]))
    metrics["failures"] = dict(failures)
    return metrics, results, answered


def evaluate_model(model, golds: Sequence[Exchange], *, progress: bool = False) -> dict:
    from mood_tagger.backends.classifier import ClassifierBackend

    return evaluate_backend(ClassifierBackend(model), golds, progress=progress)[0]
