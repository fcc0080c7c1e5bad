"""`mood-tagger check-data`: validate JSONL files and print their composition."""

from __future__ import annotations

import json

from mood_tagger.data.jsonl import check_file, expand_paths
from mood_tagger.data.summary import format_summary, summarise


def run_check(args) -> int:
    exchanges, errors = [], []
    for path in expand_paths(args.files):
        good, bad = check_file(path, require_labels=not args.unlabelled)
        exchanges += good
        errors += bad
    for err in errors:
        print(f"error: {err}")
    summary = summarise(exchanges)
    if args.json:
        print(json.dumps(summary | {"errors": len(errors)}, ensure_ascii=False, indent=2))
    else:
        print(format_summary(summary))
        print(f"\n{len(errors)} invalid line(s)" if errors else "\nall lines valid")
    return 2 if errors else 0


def add_parser(sub, add_backend_options) -> None:
    p = sub.add_parser("check-data", help="validate JSONL data and summarise it")
    p.add_argument("files", nargs="+", help="JSONL files or folders")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--unlabelled", action="store_true", help="labels are optional (input to `label`)")
    p.set_defaults(func=run_check)
