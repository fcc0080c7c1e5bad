"""Helpers every command shares: backend options, settings and backends from flags, JSON
output. Commands import these from here, never from cli.py."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def add_backend_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("backend (also MOOD_TAGGER_* environment variables)")
    g.add_argument("--model", type=Path, help="a model folder, n-gram or encoder; alone, it also picks "
                   "the backend (default: the shipped models)")
    g.add_argument("--backend", help="encoder, classifier, openai or cascade (see README)")
    g.add_argument("--encoder-model", type=Path,
                   help="encoder model folder (default: mood_tagger/models/encoder)")
    g.add_argument("--encoder-device", help="cpu (onnxruntime, default), cuda (torch + CUDA graphs, "
                   "extra [gpu]) or torch-cpu")
    g.add_argument("--llm-base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    g.add_argument("--llm-model", help="model name the LLM server serves")
    g.add_argument("--llm-api-key", help="bearer token for the LLM server (visible in `ps`: prefer "
                   "--llm-api-key-file or MOOD_TAGGER_LLM_API_KEY)")
    g.add_argument("--llm-api-key-file", type=Path, help="read the LLM server's bearer token from this file")
    g.add_argument("--llm-dialect", help="vllm, trtllm, sglang, llamacpp, ollama or openai")
    g.add_argument("--llm-timeout-ms", type=float, help="per-request timeout of the LLM call")
    g.add_argument("--llm-mode", help="json (~15 tokens) or one-token")
    g.add_argument("--cascade-threshold", type=float,
                   help="cascade: ask the next tier when the top emotion probability is below P")
    g.add_argument("--cascade-tiers", help="cascade: backends in order, e.g. classifier,encoder,openai")


def settings_from_args(args: argparse.Namespace):
    from mood_tagger.settings import Settings

    # every flag named like a Settings field overrides it; flags left out stay None
    flags: dict[str, Any] = {k: getattr(args, k, None) for k in Settings.model_fields}
    if flags.get("model") is not None and flags.get("backend") is None:
        # `--model DIR` alone means "use this model": the backend follows the model's kind
        from mood_tagger.model.protocol import model_kind, read_config
        if model_kind(read_config(Path(flags["model"]))) == "encoder":
            flags.update(backend="encoder", encoder_model=flags["model"], model=None)
        else:
            flags["backend"] = "classifier"
    return Settings().with_overrides(**flags)


def backend_from_args(args: argparse.Namespace):
    from mood_tagger.backends import create_backend

    settings = settings_from_args(args)
    return create_backend(settings.backend, settings)


def print_json(obj) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2))
