"""Latency of the shipped encoder on a GPU machine (and its CPU), the production path
(EncoderModel: tokenise + onnxruntime): batch-1 p50/p99 and batch-64 throughput.

    MOOD_TAGGER_ENCODER_PROVIDER=cuda python scripts/gpu_encoder_latency.py --out gpu-encoder.json
"""

import argparse
import json
import os
import time

import numpy as np
import onnxruntime as ort

from mood_tagger.data import load_exchanges
from mood_tagger.model.encoder_model import EncoderModel, default_encoder_path


def measure(model, exchanges, runs=300, warmup=30):
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
    for _ in range(10):
        model.predict(batch)
    per_s = 640 / (time.perf_counter() - s)
    return {"batch1_p50_ms": round(float(np.percentile(t, 50)), 3),
            "batch1_p99_ms": round(float(np.percentile(t, 99)), 3), "batch64_per_s": round(per_s, 1)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data/test")
    ap.add_argument("--out", default="gpu-encoder.json")
    args = ap.parse_args()
    exchanges = load_exchanges([args.data])
    out = {"available_providers": ort.get_available_providers(), "onnxruntime": ort.__version__}
    for provider in ("cuda", "cpu"):
        os.environ["MOOD_TAGGER_ENCODER_PROVIDER"] = provider
        model = EncoderModel.load(default_encoder_path())
        out[provider] = {"providers": model.session.get_providers()} | measure(model, exchanges)
        print(provider, out[provider], flush=True)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
