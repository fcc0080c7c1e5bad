"""Combine the n-gram and encoder tiers offline: P(yes) and emotion probabilities averaged
with weight w on the encoder, celebrate thresholds swept; one table per evaluation file.

    python scripts/combine_tiers.py build/eval/dev.jsonl build/eval/dev-hard.jsonl build/eval/test.jsonl
"""

import argparse
import json

import numpy as np

from mood_tagger.data import load_exchanges
from mood_tagger.labels import EMOTION_TAGS
from mood_tagger.model import load_model
from mood_tagger.model.encoder_model import default_encoder_path


def scores(golds, emo, p_yes, thr):
    y = np.array([g.celebrate == "yes" for g in golds])
    pred = p_yes >= thr
    tp = (pred & y).sum()
    prec, rec = tp / max(pred.sum(), 1), tp / max(y.sum(), 1)
    tags = [EMOTION_TAGS[i] for i in emo.argmax(1)]
    lenient = np.mean([t in g.emotion_ok for t, g in zip(tags, golds)])
    strict = np.mean([t == g.emotion_name for t, g in zip(tags, golds)])
    return {"strict": round(strict, 3), "lenient": round(lenient, 3), "P": round(prec, 3),
            "R": round(rec, 3), "F1": round(2 * prec * rec / max(prec + rec, 1e-9), 3)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.5, 0.75, 1.0])
    args = ap.parse_args()
    ngram, encoder = load_model(), load_model(default_encoder_path())
    out = {}
    for path in args.files:
        golds = load_exchanges([path])
        e_n, c_n = ngram.predict_proba(golds)
        e_e, c_e = encoder.predict_proba(golds)
        for w in args.weights:
            thr = w * encoder.calibration.celebrate_threshold + (1 - w) * ngram.calibration.celebrate_threshold
            out[f"{path} w={w}"] = scores(golds, w * e_e + (1 - w) * e_n, w * c_e + (1 - w) * c_n, thr)
            print(path, f"w={w}", out[f"{path} w={w}"], flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
