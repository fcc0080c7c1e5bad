"""Compare model designs on a labelled eval set; writes docs/model-selection.json and the
table docs/model-selection-table.md (quoted by docs/model-selection.md).

    python scripts/model_selection.py --data data/ --eval ../shared/data/dev.jsonl
    python scripts/model_selection.py --only "MLP · 128 ReLU, 150k"   # rerun one row, keep the rest

Each design is trained on --data only (never on the eval file) with the same seed.
Latency is in process, one exchange at a time, through the production backend.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
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
    "MLP · 128 ReLU, 150k features, float32": TrainConfig(hidden=128, max_features=150_000,
                                                          weights_dtype="float32"),
    "MLP · 128 ReLU, 50k features, float16": TrainConfig(hidden=128, max_features=50_000),
    "MLP · 64 ReLU, 100k features, float16 (shipped default)": TrainConfig(),
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
        with tempfile.TemporaryDirectory() as tmp:  # the size of the saved folder, as shipped
            saved = model.save(Path(tmp) / "m")
            size_mb = sum(f.stat().st_size for f in saved.iterdir()) / 1e6
        rows.append({"design": name, "train_s": round(seconds, 1), "saved_mb": round(size_mb, 1),
                     **{k: round(m[k], 4) for k in KEYS}, "config": cfg.to_dict()})
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "config"}, ensure_ascii=False),
              file=sys.stderr)
    if args.extra_json and Path(args.extra_json).is_file():
        rows += json.loads(Path(args.extra_json).read_text())
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    previous = out.with_suffix(".json")
    if previous.is_file():  # keep the rows of designs not rerun this time
        fresh = {r["design"] for r in rows}
        rows = [r for r in json.loads(previous.read_text())["rows"] if r["design"] not in fresh] + rows
    order = list(DESIGNS)
    rows.sort(key=lambda r: order.index(r["design"]) if r["design"] in order else len(order))
    previous.write_text(json.dumps({"train_examples": len(train), "eval": args.eval,
                                    "rows": rows}, indent=2) + "\n")
    Path(f"{out}-table.md").write_text(render(rows))
    return 0


def render(rows: list[dict]) -> str:
    head = ("| design | strict | lenient | macro-F1 | celebrate P | celebrate R | celebrate F1 "
            "| p50 ms | p99 ms | saved MB | train s |")
    lines = [head, "|---" * 11 + "|"]
    for r in rows:
        mb = "–" if r.get("saved_mb") is None else f"{r['saved_mb']:.1f}"
        lines.append(f"| {r['design']} | {r['emotion_strict']:.3f} | {r['emotion_lenient']:.3f} | "
                     f"{r['emotion_macro_f1']:.3f} | {r['celebrate_precision']:.3f} | "
                     f"{r['celebrate_recall']:.3f} | {r['celebrate_f1']:.3f} | "
                     f"{r['latency_ms_p50']:.3f} | {r['latency_ms_p99']:.3f} | {mb} | "
                     f"{r['train_s']:.0f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
