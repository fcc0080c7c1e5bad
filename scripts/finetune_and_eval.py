"""Fine-tune the encoder once, export float32 and int8 ONNX folders, and measure both on
every evaluation file given (per `group` where the file has one). For a GPU machine:

    python scripts/finetune_and_eval.py --base build/e5-pruned.bin --out runs/enc12 \
        --eval build/eval/dev.jsonl build/eval/dev-hard.jsonl data/test --layers 12

Writes <out>/fp32/, one folder per quantised variant (QUANT_VARIANTS: scheme, float32 MatMuls),
<out>/results.json and <out>/logits.npz (raw logits per evaluation file and precision, for
comparing tier combinations offline). `--pick-on FILE` names the variant of at most 40 MB whose
celebrate F1 and emotion lenient are closest to float32's on FILE (use a file of our own, not
a public evaluation set).
"""

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from mood_tagger.data import load_exchanges
from mood_tagger.encoder.export import export_model
from mood_tagger.encoder.quantize import calibration_ids
from mood_tagger.evaluation.metrics import compute_metrics
from mood_tagger.model import load_model
from mood_tagger.training.encoder_trainer import EncoderTrainConfig, train_encoder

# name -> (scheme of mood_tagger/encoder/quantize.py, MatMuls kept float32)
QUANT_VARIANTS = {"int8": ("int8", ()), "int8-smooth": ("int8-smooth", ()),
                  "int8-smooth-head": ("int8-smooth", ("/head/",)), "w8": ("w8", ())}
MAX_MB = 40.0            # the shipped artifact's size limit (issue 10)
KEYS = ("emotion_strict", "emotion_lenient", "celebrate_accuracy", "celebrate_precision",
        "celebrate_recall", "celebrate_f1")


def summarise(golds, preds) -> dict:
    m = compute_metrics(golds, [p.emotion_name for p in preds], [p.celebrate for p in preds])
    out = {k: round(m[k], 4) for k in KEYS} | {"n": len(golds)}
    groups = defaultdict(list)
    for i, g in enumerate(golds):
        if g.extra.get("group"):
            groups[g.extra["group"]].append(i)
    if groups:
        out["by_group"] = {}
        for name, idx in sorted(groups.items()):
            mg = compute_metrics([golds[i] for i in idx], [preds[i].emotion_name for i in idx],
                                 [preds[i].celebrate for i in idx])
            out["by_group"][name] = {k: round(mg[k], 4) for k in KEYS} | {"n": len(idx)}
    return out


def with_teacher_probabilities(exchanges, net_file: str):
    """The exchanges with the calibrated probabilities of a --save-net teacher as soft labels
    (mood_tagger/data/soft_labels.py): 12 -> 6 layer distillation."""
    from dataclasses import replace

    import torch
    from mood_tagger.data.soft_labels import CELEBRATE_FIELD, EMOTION_FIELD
    from mood_tagger.encoder.inputs import exchange_ids
    from mood_tagger.labels import EMOTION_TAGS
    from mood_tagger.model.calibration import softmax
    from mood_tagger.training.encoder_trainer import pick_device, predict_logits
    saved = torch.load(net_file, weights_only=False)
    net, tok, config = saved["net"], saved["tok"], saved["config"]
    device = pick_device("auto")
    seqs = [exchange_ids(tok, ex, config["model"]["max_len"]) for ex in exchanges]
    logits = predict_logits(net.to(device), seqs, tok.pad, device)
    cal = config["calibration"]
    emo = softmax(logits[:, :len(EMOTION_TAGS)] / cal["emotion_temperature"])
    yes = softmax(logits[:, len(EMOTION_TAGS):] / cal["celebrate_temperature"])[:, 1]
    return [replace(ex, extra=ex.extra | {EMOTION_FIELD: {t: float(p) for t, p in zip(EMOTION_TAGS, e)},
                                          CELEBRATE_FIELD: float(c)})
            for ex, e, c in zip(exchanges, emo, yes)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--data", nargs="+", default=["data/hand", "data/augmented"])
    ap.add_argument("--out", required=True)
    ap.add_argument("--eval", nargs="+", default=[])
    ap.add_argument("--config", default="{}", help="EncoderTrainConfig fields as JSON")
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--save-net", help="after training, save (net, tokenizer, config) here and stop")
    ap.add_argument("--load-net", help="skip training: export and evaluate a --save-net file")
    ap.add_argument("--distill-from", help="a --save-net teacher: train on its probabilities")
    ap.add_argument("--pick-on", help="evaluation file stem that picks the int8 variant")
    ap.add_argument("--variants", nargs="+", default=["none", *QUANT_VARIANTS],
                    help="exports to write (default: float32 and every quantised variant)")
    args = ap.parse_args()
    if args.pick_on and "none" not in args.variants:
        ap.error("--pick-on compares each variant with float32: add 'none' to --variants")
    cfg = EncoderTrainConfig(**({"layers": args.layers} | json.loads(args.config)))
    import torch
    exchanges = load_exchanges(args.data, for_training=True)
    if args.load_net:
        saved = torch.load(args.load_net, weights_only=False)
        net, tok, config, train_s, n_train = (saved[k] for k in ("net", "tok", "config", "train_s", "n_train"))
    else:
        if args.distill_from:
            exchanges = with_teacher_probabilities(exchanges, args.distill_from)
        t0 = time.time()
        net, tok, config = train_encoder(exchanges, args.base, cfg, progress=False, log=print)
        train_s, n_train = time.time() - t0, len(exchanges)
        if args.save_net:
            torch.save({"net": net.cpu(), "tok": tok, "config": config, "train_s": train_s,
                        "n_train": n_train}, args.save_net)
            return
    out = Path(args.out)
    results = {"config": cfg.to_dict(), "train_seconds": round(train_s, 1),
               "calibration": config["calibration"], "n_train": n_train}
    logits = {}
    calibration = calibration_ids(tok, exchanges, cfg.max_len)
    for quant in args.variants:
        scheme, keep = QUANT_VARIANTS.get(quant, ("none", ()))
        try:
            folder = export_model(net, tok, dict(config, name=out.name),
                                  out / ("fp32" if quant == "none" else quant),
                                  quantize=scheme, keep_fp32=keep, calibration=calibration)
        except ImportError as exc:              # w8 needs onnx_ir, which a machine may lack
            results[quant] = {"error": repr(exc)}
            continue
        model = load_model(folder)
        results[quant] = {"onnx_mb": round((folder / "model.onnx").stat().st_size / 1e6, 1)}
        for path in args.eval:
            golds = load_exchanges([path])
            preds = model.predict(golds)
            results[quant][Path(path).stem] = summarise(golds, preds)
            logits[f"{quant}/{Path(path).stem}"] = model.logits(model.token_ids(golds)) \
                if len(golds) < 64 else np.concatenate(
                    [model.logits(model.token_ids(golds[i:i + 32])) for i in range(0, len(golds), 32)])
    if args.pick_on:
        gap = {q: abs(results[q][args.pick_on]["celebrate_f1"] - results["none"][args.pick_on]["celebrate_f1"])
               + abs(results[q][args.pick_on]["emotion_lenient"] - results["none"][args.pick_on]["emotion_lenient"])
               for q in QUANT_VARIANTS if "error" not in results[q] and results[q]["onnx_mb"] <= MAX_MB}
        results["picked"] = min(gap, key=lambda q: (round(gap[q], 3), results[q]["onnx_mb"]))
        print("picked", results["picked"], gap)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    np.savez_compressed(out / "logits.npz", **logits)
    print(json.dumps({q: {k: {m: v for m, v in r.items() if m != "by_group"} if isinstance(r, dict) else r
                          for k, r in results[q].items()} for q in args.variants}, indent=1))


if __name__ == "__main__":
    main()
