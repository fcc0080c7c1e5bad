"""The `mood-tagger` command line. Errors map to exit codes in one place (EXIT_CODES)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import ValidationError

from mood_tagger import __version__
from mood_tagger.errors import (BackendError, DataError, InputError, ModelError,
                                MoodTaggerError)

EXIT_CODES = {DataError: 2, InputError: 2, ModelError: 3, BackendError: 4, MoodTaggerError: 1}


def _add_backend_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("backend (also MOOD_TAGGER_* environment variables)")
    g.add_argument("--model", type=Path, help="n-gram classifier model folder (default: shipped model)")
    g.add_argument("--backend", help="encoder, classifier, openai or cascade (see README)")
    g.add_argument("--encoder-model", type=Path,
                   help="encoder model folder (default: mood_tagger/models/encoder)")
    g.add_argument("--llm-base-url", help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1")
    g.add_argument("--llm-model", help="model name the LLM server serves")
    g.add_argument("--llm-api-key", help="bearer token for the LLM server")
    g.add_argument("--llm-dialect", help="vllm, trtllm, sglang, llamacpp, ollama or openai")
    g.add_argument("--llm-timeout-ms", type=float, help="per-request timeout of the LLM call")
    g.add_argument("--llm-mode", help="json (~15 tokens) or one-token")
    g.add_argument("--cascade-threshold", type=float,
                   help="cascade: ask the next tier when the top emotion probability is below P")
    g.add_argument("--cascade-tiers", help="cascade: backends in order, e.g. classifier,encoder,openai")


def settings_from_args(args: argparse.Namespace):
    from mood_tagger.settings import Settings

    # every flag named like a Settings field overrides it; flags left out stay None
    flags = {k: getattr(args, k, None) for k in Settings.model_fields}
    if flags.get("model") is not None and flags.get("backend") is None:
        # `--model DIR` alone means "use this model": the backend follows the model's kind
        from pathlib import Path

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


def build_parser() -> argparse.ArgumentParser:
    from mood_tagger.commands import (data_cmds, eval_cmd, label_cmd, serve_cmds, tag_cmd,
                                      train_cmd)

    parser = argparse.ArgumentParser(prog="mood-tagger", description=(
        "Tag Pika's replies with an emotion and a celebrate flag (see LABELS.md)."))
    parser.add_argument("--version", action="version", version=f"mood-tagger {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (tag_cmd, train_cmd, eval_cmd, data_cmds, serve_cmds, label_cmd):
        module.add_parser(sub, _add_backend_options)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except MoodTaggerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return next(code for cls, code in EXIT_CODES.items() if isinstance(exc, cls))
    except ValidationError as exc:  # settings from flags or MOOD_TAGGER_* variables
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}"
                             for e in exc.errors())
        print(f"error: invalid setting ({problems}); check the flag or its MOOD_TAGGER_* "
              "environment variable", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def print_json(obj) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    sys.exit(main())
