"""The `mood-tagger` command line. Errors map to exit codes in one place (EXIT_CODES)."""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError

from mood_tagger import __version__
from mood_tagger.commands.common import add_backend_options
from mood_tagger.errors import (BackendError, DataError, InputError, ModelError,
                                MoodTaggerError)

EXIT_CODES = {DataError: 2, InputError: 2, ModelError: 3, BackendError: 4, MoodTaggerError: 1}


def build_parser() -> argparse.ArgumentParser:
    from mood_tagger.commands import (data_cmds, eval_cmd, label_cmd, serve_cmds, tag_cmd,
                                      train_cmd)

    parser = argparse.ArgumentParser(prog="mood-tagger", description=(
        "Tag Pika's replies with an emotion and a celebrate flag (see LABELS.md)."))
    parser.add_argument("--version", action="version", version=f"mood-tagger {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (tag_cmd, train_cmd, eval_cmd, data_cmds, serve_cmds, label_cmd):
        module.add_parser(sub, add_backend_options)
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




if __name__ == "__main__":
    sys.exit(main())
