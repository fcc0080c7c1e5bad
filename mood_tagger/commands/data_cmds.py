"""`mood-tagger check-data`: validate JSONL files and print their composition."""

from __future__ import annotations

import json

from mood_tagger.data.jsonl import check_file, duplicate_ids, expand_paths
from mood_tagger.errors import DataError
from mood_tagger.data.summary import format_summary, summarise


def run_check(args) -> int:
    """Problems as `error:` lines on stdout, or with --json one JSON object and nothing else."""
    exchanges, errors = [], []
    paths = expand_paths(args.files, skip_reviews=True)      # annotations have their own format
    for path in paths:
        good, bad = check_file(path, require_labels=not args.unlabelled)
        exchanges += good
        errors += bad
    errors += duplicate_ids(paths)
    summary = summarise(exchanges)
    if args.json:
        problems = [{"path": e.path, "line": e.line, "field": e.field, "message": str(e)}
                    for e in errors]
        print(json.dumps(summary | {"errors": len(errors), "problems": problems},
                         ensure_ascii=False, indent=2))
    else:
        for err in errors:
            print(f"error: {err}")
        print(format_summary(summary))
        print(f"\n{len(errors)} problem(s)" if errors else "\nall lines valid")
    return 2 if errors else 0


def add_parser(sub, add_backend_options) -> None:
    p = sub.add_parser("check-data", help="validate JSONL data and summarise it")
    p.add_argument("files", nargs="+", help="JSONL files or folders (a folder's reviews/ annotations "
                   "are skipped)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--unlabelled", action="store_true", help="labels are optional (input to `label`)")
    p.set_defaults(func=run_check)
    add_augment_parsers(sub)


def run_augment(args) -> int:
    from mood_tagger.data.augment import augment
    from mood_tagger.data.jsonl import load_exchanges, write_exchanges

    source = [ex for ex in load_exchanges(args.inputs)
              if not str(ex.extra.get("source", "hand")).startswith("augment")]
    generated = augment(source, seed=args.seed, copies=args.copies)
    count = write_exchanges(args.out, generated)
    print(f"{count} augmented exchanges from {len(source)} → {args.out}")
    return 0


def run_overlap(args) -> int:
    from mood_tagger.data.jsonl import load_exchanges
    from mood_tagger.data.overlap import find_overlaps

    corpus = load_exchanges(args.corpus)
    probes = load_exchanges([args.against], require_labels=False)
    matches = find_overlaps(corpus, probes, threshold=args.threshold)
    exact = [m for m in matches if m.similarity >= 0.999]
    print(f"{len(probes)} items of {args.against} against {len(corpus)} corpus items: "
          f"{len(exact)} exact, {len(matches) - len(exact)} near (similarity ≥ {args.threshold})")
    for m in matches[:args.show]:
        print(f"  {m.similarity:.2f}  {m.probe_id} ~ {m.corpus_id}\n"
              f"        {m.probe_text[:100]}\n        {m.corpus_text[:100]}")
    if args.remove and matches:
        ids = {m.corpus_id for m in matches}
        if None in ids:
            raise DataError("--remove needs an 'id' on every corpus line; some matches have none")
        _remove_ids(args.corpus, ids)
        return 0
    return 1 if matches else 0


def _remove_ids(corpus_paths, ids: set) -> None:
    """Rewrite the corpus files without the matched items (and their augmented copies)."""
    from mood_tagger.data.jsonl import load_exchanges, write_exchanges

    for path in expand_paths(corpus_paths):
        items = load_exchanges([path])
        kept = [ex for ex in items if ex.id not in ids and ex.extra.get("augmented_from") not in ids]
        if len(kept) != len(items):
            write_exchanges(path, kept)
            print(f"removed {len(items) - len(kept)} item(s) from {path}")


def add_augment_parsers(sub) -> None:
    a = sub.add_parser("augment", help="generate surface-form augmentation of labelled data")
    a.add_argument("inputs", nargs="+", help="hand-written JSONL files or folders")
    a.add_argument("--out", required=True, help="output JSONL, e.g. data/augmented/augmented.jsonl")
    a.add_argument("--copies", type=int, default=1,
                   help="augmented variants written per hand-written exchange (default 1)")
    a.add_argument("--seed", type=int, default=13, help="random seed: same seed, same output (default 13)")
    a.set_defaults(func=run_augment)

    o = sub.add_parser("overlap", help="find exact and near duplicates of another set in a corpus")
    o.add_argument("corpus", nargs="+", help="training JSONL files or folders")
    o.add_argument("--against", required=True, help="e.g. ../shared/data/dev.jsonl")
    o.add_argument("--threshold", type=float, default=0.7, help="char 5-gram Jaccard for 'near'")
    o.add_argument("--show", type=int, default=10, help="matches to print")
    o.add_argument("--remove", action="store_true", help="rewrite the corpus without the matches")
    o.set_defaults(func=run_overlap)
