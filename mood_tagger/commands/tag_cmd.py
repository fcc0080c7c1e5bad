"""`mood-tagger tag`: tag one exchange and print the JSON result."""

from __future__ import annotations

import json
from pathlib import Path

from mood_tagger.errors import InputError


def load_history(value: str | None) -> list | None:
    """--history takes inline JSON or a path to a JSON file."""
    if value is None:
        return None
    text = value
    if not value.lstrip().startswith("["):
        path = Path(value)
        if not path.is_file():
            raise InputError(f"--history: {value!r} is neither a JSON list nor an existing file")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"--history: {value} is not UTF-8 text; save it as UTF-8") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"--history: invalid JSON ({exc.msg} at column {exc.colno}); expected "
                         '[{"role": "pika", "text": "..."}]') from exc


def run(args) -> int:
    from mood_tagger.commands.common import backend_from_args, print_json
    from mood_tagger.data.inputs import make_exchange

    exchange = make_exchange(args.user, args.pika, load_history(args.history))
    backend = backend_from_args(args)
    try:
        print_json(backend.tag(exchange, args.deadline_ms).to_dict())
    finally:
        backend.close()
    return 0


def add_parser(sub, add_backend_options) -> None:
    p = sub.add_parser("tag", help="tag one exchange, print JSON")
    p.add_argument("--user", required=True, help="the child's last message")
    p.add_argument("--pika", required=True, help="Pika's reply")
    p.add_argument("--history", help='earlier turns: JSON list or file, [{"role": "pika", "text": "..."}]')
    p.add_argument("--deadline-ms", type=float, default=None, help="answer within this budget")
    add_backend_options(p)
    p.set_defaults(func=run)
