"""Compare model designs on a labelled eval set; writes docs/model-selection.{md,json}.

    python scripts/model_selection.py --data data/ --eval ../shared/data/dev.jsonl

Each design is trained on --data only (never on the eval file) with the same seed.
Latency is in process, one exchange at a time, through the production backend.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from mood_tagger.data import load_exchanges
from mood_tagger.evaluation.runner import evaluate_model
from mood_tagger.features import FeatureConfig
from mood_tagger.training import TrainConfig, train_model

WORDS_ONLY = FeatureConfig(child_char_ngrams=(0, 0), stripped_parts=False, sentence_parts=False)
LINEAR = dict(hidden=0, lr=0.02, epochs=25, dropout=0.0, max_features=150_000,
              weights_dtype="float32")
DESIGNS = {
    "linear · word+char n-grams (all feature groups)": TrainConfig(**LINEAR),
    "linear · word n-grams only (ablation)": TrainConfig(**LINEAR, features=WORDS_ONLY),
    "fastText-style · 64-d embedding bag, linear": TrainConfig(
        hidden=64, activation="linear", lr=0.01, epochs=20, dropout=0.0, max_features=150_000,
        weights_dtype="float32"),
    "MLP · 128 ReLU, 150k features, float32": TrainConfig(max_features=150_000,
                                                          weights_dtype="float32"),
    "MLP · 64 ReLU, 100k features, float16": TrainConfig(hidden=64, max_features=100_000),
    "MLP · 128 ReLU, 50k features, float16 (shipped default)": TrainConfig(),
}
KEYS = ("emotion_strict", "emotion_lenient", "emotion_macro_f1", "celebrate_precision",
        "celebrate_recall", "celebrate_f1", "latency_ms_p50", "latency_ms_p99")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", nargs="+", default=["data/"])
    ap.add_argument("--eval", default="../shared/data/dev.jsonl")
    ap.add_argument("--only", help="substring of the design names to run")
    ap.add_argument("--extra-json", help="extra rows (e.g. from scripts/e5_baseline.py) to merge")
    ap.add_argument("--out", default="docs/model-selection")
    args = ap.parse_args()
    train = load_exchanges(args.data)
    dev = load_exchanges([args.eval])
    rows = []
    for name, cfg in DESIGNS.items():
        if args.only and args.only not in name:
            continue
        start = time.perf_counter()
        model = train_model(train, cfg, name=name, progress=False)
        seconds = time.perf_counter() - start
        m = evaluate_model(model, dev)
        size_mb = sum(a.nbytes for a in model.weights.values()) / 1e6
        rows.append({"design": name, "train_s": round(seconds, 1), "weights_mb": round(size_mb, 1),
                     **{k: round(m[k], 4) for k in KEYS}, "config": cfg.to_dict()})
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "config"}, ensure_ascii=False),
              file=sys.stderr)
    if args.extra_json and Path(args.extra_json).is_file():
        rows += json.loads(Path(args.extra_json).read_text())
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"train_examples": len(train),
                                                    "eval": args.eval, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
