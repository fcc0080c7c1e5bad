"""Combine the n-gram and encoder tiers offline: P(yes) and emotion probabilities averaged
with weight w on the encoder, celebrate thresholds swept; one table per evaluation file.

    python scripts/combine_tiers.py build/eval/dev.jsonl build/eval/dev-hard.jsonl build/eval/test.jsonl
"""

import argparse
import json


from mood_tagger.data import load_exchanges
from mood_tagger.evaluation.metrics import compute_metrics
from mood_tagger.labels import EMOTION_TAGS
from mood_tagger.model import load_model
from mood_tagger.model.encoder_model import default_encoder_path


def scores(golds, emo, p_yes, thr):
    m = compute_metrics(golds, [EMOTION_TAGS[i] for i in emo.argmax(1)],
                        ["yes" if p >= thr else "no" for p in p_yes])
    return {k: round(m[key], 3) for k, key in (("strict", "emotion_strict"), ("lenient", "emotion_lenient"),
                                               ("P", "celebrate_precision"), ("R", "celebrate_recall"),
                                               ("F1", "celebrate_f1"))}


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
