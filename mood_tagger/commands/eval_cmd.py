"""`mood-tagger eval`: metrics of a backend on a labelled JSONL file."""

from __future__ import annotations

import json
from pathlib import Path

from mood_tagger.data import load_exchanges


def run(args) -> int:
    from mood_tagger.commands.common import backend_from_args
    from mood_tagger.evaluation.report import format_report, plot_confusion
    from mood_tagger.evaluation.runner import evaluate_backend

    golds = load_exchanges([args.file])
    backend = backend_from_args(args)
    try:
        metrics, results, answered = evaluate_backend(backend, golds, progress=not args.json,
                                                       deadline_ms=args.deadline_ms)
    finally:
        backend.close()
    metrics["model"] = backend.model_name
    metrics["backend"] = backend.name
    if args.json:
        print(json.dumps(metrics, ensure_ascii=False))
    else:
        print(format_report(metrics, f"{Path(args.file).name} · backend {backend.name} · "
                                     f"model {backend.model_name}"))
        if metrics["failures"]:
            print(f"\nnot answered (left out of the metrics): {metrics['failures']}")
    if args.plot:
        path = plot_confusion([g.emotion_name for g in answered], [r.emotion_name for r in results],
                              args.plot, f"{Path(args.file).name}: emotion confusion "
                                         f"({backend.model_name})")
        if not args.json:
            print(f"\nconfusion matrix written to {path}")
    return 0


def add_parser(sub, add_backend_options) -> None:
    p = sub.add_parser("eval", help="evaluate on a labelled JSONL file")
    p.add_argument("file", help="labelled JSONL, e.g. ../shared/data/dev.jsonl")
    p.add_argument("--json", action="store_true", help="one JSON object with all metrics")
    p.add_argument("--plot", help="write a confusion-matrix PNG here")
    p.add_argument("--deadline-ms", type=float, default=None, help="per-exchange budget")
    add_backend_options(p)
    p.set_defaults(func=run)
