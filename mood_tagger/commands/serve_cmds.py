"""`mood-tagger serve` and `mood-tagger bench`."""

from __future__ import annotations

import datetime as dt
import shlex
import sys
from pathlib import Path

DOCS_REPORT = "docs/benchmarks.md"           # the report the README quotes: only with --update-docs
DEFAULT_REPORT = "bench-results/benchmarks.md"


def run_serve(args) -> int:
    from mood_tagger.commands.common import settings_from_args
    from mood_tagger.backends import create_backend
    from mood_tagger.serving.server import serve

    # a missing encoder degrades the service (n-gram answers, /readyz says so) instead of stopping it
    settings = settings_from_args(args).model_copy(update={"encoder_missing_ok": True})
    create_backend(settings.backend, settings).close()  # fail fast, clearly, before uvicorn starts
    serve(settings, access_log=args.access_log)
    return 0


def run_bench(args) -> int:
    from mood_tagger.backends import create_backend
    from mood_tagger.bench import report, runner
    from mood_tagger.commands.common import settings_from_args
    from mood_tagger.serving.server import settings_env

    settings = settings_from_args(args)
    backend = create_backend(settings.backend, settings)
    result = {"date": dt.date.today().isoformat(), "machine": runner.machine(),
              "backend": backend.name, "model": backend.model_name}
    print(f"in process: {args.iterations} exchanges, one at a time …", file=sys.stderr)
    result["in_process"] = runner.bench_in_process(backend, args.iterations)
    print(f"over HTTP: {args.seconds:g} s per concurrency level, soak {args.soak:g} s …",
          file=sys.stderr)
    result["http"] = runner.bench_http(settings_env(settings), seconds=args.seconds,
                                       soak_s=args.soak)
    command = "mood-tagger " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    out = Path(args.out or (DOCS_REPORT if args.update_docs else DEFAULT_REPORT))
    md, js = report.write(result, out, command)
    print(md.read_text())
    print(f"written: {md} and {js}", file=sys.stderr)
    return 0


def add_parser(sub, add_backend_options) -> None:
    p = sub.add_parser("serve", help="run the HTTP service (OpenAI-compatible drop-in included)")
    p.add_argument("--host", help="bind address (default 127.0.0.1; 0.0.0.0 for robots on a LAN)")
    p.add_argument("--port", type=int, help="port (default 7862)")
    p.add_argument("--workers", type=int, help="uvicorn worker processes (default 1)")
    p.add_argument("--api-key", help="require 'Authorization: Bearer KEY' (MOOD_TAGGER_API_KEY)")
    p.add_argument("--api-key-file", help="read the key from this file (not visible in `ps`; "
                   "MOOD_TAGGER_API_KEY_FILE)")
    p.add_argument("--log-requests", action="store_true", default=None,
                   help="log children's messages (off by default: they are private)")
    p.add_argument("--access-log", action="store_true", help="uvicorn access log (paths only)")
    p.add_argument("--no-json-access-log", dest="json_access_log", action="store_false", default=None,
                   help="no JSON access-log line per request on stderr (on by default; never texts)")
    add_backend_options(p)
    p.set_defaults(func=run_serve)

    b = sub.add_parser("bench", help="latency/throughput/memory benchmark → a markdown + JSON report")
    b.add_argument("--iterations", type=int, default=20000, help="in-process exchanges")
    b.add_argument("--seconds", type=float, default=10.0, help="seconds per HTTP load level")
    b.add_argument("--soak", type=float, default=60.0, help="soak duration in seconds (0: skip)")
    b.add_argument("--out", help=f"markdown report, JSON beside it (default {DEFAULT_REPORT})")
    b.add_argument("--update-docs", action="store_true",
                   help=f"write {DOCS_REPORT}, the report the README quotes (tracked in git)")
    add_backend_options(b)
    b.set_defaults(func=run_bench)
