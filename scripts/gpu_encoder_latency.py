"""Latency of the shipped encoder on the serving path (EncoderModel: tokenise + run) on
a GPU machine: batch-1 p50/p99 and batch-64 throughput, per device, plus the agreement of
the CUDA path's tags with the CPU path's on the evaluation files.

    python scripts/gpu_encoder_latency.py --devices cuda cpu --out gpu-encoder.json
"""

import argparse
import json
import time

import numpy as np

from mood_tagger.data import load_exchanges
from mood_tagger.evaluation.metrics import compute_metrics
from mood_tagger.model.encoder_model import EncoderModel


def measure(model, exchanges, runs=1000, warmup=50):
    for ex in exchanges[:warmup]:
        model.predict([ex])
    t = []
    for i in range(runs):
        ex = exchanges[i % len(exchanges)]
        s = time.perf_counter()
        model.predict([ex])
        t.append((time.perf_counter() - s) * 1000)
    batch = exchanges[:64]
    model.predict(batch)
    s = time.perf_counter()
    for _ in range(20):
        model.predict(batch)
    per_s = 64 * 20 / (time.perf_counter() - s)
    return {"batch1_p50_ms": round(float(np.percentile(t, 50)), 3),
            "batch1_p99_ms": round(float(np.percentile(t, 99)), 3),
            "batch64_per_s": round(per_s, 1)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="encoder folder (default: the shipped one)")
    ap.add_argument("--data", default="data/test", help="inputs for the timing runs")
    ap.add_argument("--eval", nargs="*", default=[], help="labelled files to score per device")
    ap.add_argument("--devices", nargs="+", default=["cuda", "cpu"])
    ap.add_argument("--out", default="gpu-encoder.json")
    args = ap.parse_args()
    exchanges = load_exchanges([args.data])
    out: dict = {}
    for device in args.devices:
        s = time.perf_counter()
        model = EncoderModel.load(args.model, device=device)     # captures the CUDA graphs
        row = {"load_and_capture_s": round(time.perf_counter() - s, 2)} | measure(model, exchanges)
        for path in args.eval:
            golds = load_exchanges([path])
            preds = model.predict(golds)
            m = compute_metrics(golds, [p.emotion_name for p in preds], [p.celebrate for p in preds], [])
            row[path] = {k: round(m[k], 4) for k in ("emotion_strict", "emotion_lenient",
                                                      "celebrate_precision", "celebrate_recall", "celebrate_f1")}
        out[device] = row
        print(device, json.dumps(row), flush=True)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
