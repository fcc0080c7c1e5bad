"""`mood-tagger label`: teacher-label exchanges with an LLM backend, concurrently and resumably.

Every finished exchange is appended to OUT and flushed at once, so an interrupted run loses
nothing: run the same command again and the exchanges already in OUT (same id, or the same
texts when there is no id) are skipped. Failed exchanges are not written; they are counted by
error kind at the end, and the exit code is 4 when any failed.

Only the LLM's own answers are teacher labels: with `--backend cascade`, an answer that the
classifier gave instead (backend "classifier": confident, no_time_left, llm_timeout, …) is a
failure of kind <reason>, not a label.

With --soft each line also keeps the teacher's probabilities (`teacher_emotion_p`,
`teacher_celebrate_p`, see mood_tagger.data.soft_labels), which `train` uses as distillation
targets. Only a teacher that returns probabilities can soft-label: `--llm-mode one-token` with a
dialect that reads top_logprobs (openai, ollama); an answer without them fails as
`no_probabilities`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from mood_tagger.data.jsonl import load_exchanges
from mood_tagger.data.schema import Exchange
from mood_tagger.data.soft_labels import soft_fields
from mood_tagger.errors import BackendError, DataError, InputError

EXIT_FAILED = 4
TEACHER_BACKEND = "openai"          # the only backend whose answers are teacher labels


def record_key(obj: dict) -> str:
    """The id, or a hash of the texts for lines without one."""
    if isinstance(obj.get("id"), str):
        return "id:" + obj["id"]
    history = [[t.get("role"), t.get("text")] for t in obj.get("history") or [] if isinstance(t, dict)]
    texts = json.dumps([history, obj.get("user_last_message"), obj.get("pika_response")],
                       ensure_ascii=False)
    return "text:" + hashlib.sha1(texts.encode("utf-8")).hexdigest()


def done_keys(out: Path) -> set[str]:
    """Keys already in OUT; a torn last line (no newline: the run was killed) is cut off."""
    if not out.exists():
        return set()
    raw = out.read_bytes()
    if raw and not raw.endswith(b"\n"):
        cut = raw.rfind(b"\n") + 1
        print(f"{out}: dropping an incomplete last line ({len(raw) - cut} bytes) from an "
              "interrupted run", file=sys.stderr)
        with out.open("r+b") as fh:
            fh.truncate(cut)
        raw = raw[:cut]
    keys = set()
    for number, line in enumerate(raw.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            keys.add(record_key(json.loads(line)))
        except (ValueError, AttributeError) as exc:
            raise DataError("not a JSON object; fix or remove the line, then resume",
                            path=str(out), line=number) from exc
    return keys


def teacher_record(exchange: Exchange, result, soft: bool = False) -> dict:
    """The LABELS.md line with the teacher's labels, its source, no bookkeeping `case`, and with
    `soft` the teacher's probabilities."""
    labelled = replace(exchange, emotion_name=result.emotion_name, emotion_ok=(result.emotion_name,),
                       celebrate=result.celebrate, extra={})
    record = labelled.to_json() | {"source": f"teacher:{result.model}"}
    if soft:
        record |= soft_fields(result.emotion_top, result.celebrate_p)
    return record


NO_PROBABILITIES = ("no_probabilities", "the teacher answered without probabilities; --soft needs "
                    "--llm-mode one-token with a dialect that reads top_logprobs (openai, ollama)")


def not_a_teacher_label(result) -> tuple[str | None, str]:
    """(failure kind, message) when someone other than the LLM answered, else (None, "")."""
    if result.backend == TEACHER_BACKEND:
        return None, ""
    return result.reason or result.backend, (
        f"the {result.backend} answered ({result.reason}), not the LLM; for teacher labels use "
        "--backend openai, or --cascade-threshold 1.0 and a deadline the LLM can meet "
        "(MOOD_TAGGER_DEFAULT_DEADLINE_MS)")


async def label_all(backend, todo: list[Exchange], out_fh, *, concurrency: int,
                    progress: bool = True, soft: bool = False) -> tuple[int, Counter, dict[str, str]]:
    """Tag `todo` with `concurrency` workers; returns (written, failures by kind, first messages)."""
    failures: Counter = Counter()
    examples: dict[str, str] = {}
    written = 0
    pending = iter(todo)
    with tqdm(total=len(todo), desc="label", unit="ex", disable=not progress, file=sys.stderr) as bar:
        async def worker() -> None:
            nonlocal written
            for exchange in pending:
                try:
                    result = await backend.atag(exchange, None)
                    kind, message = not_a_teacher_label(result)
                    if kind is None and soft and result.celebrate_p is None:
                        kind, message = NO_PROBABILITIES
                except BackendError as exc:
                    kind, message = exc.kind, str(exc)
                if kind is None:
                    out_fh.write(json.dumps(teacher_record(exchange, result, soft), ensure_ascii=False) + "\n")
                    out_fh.flush()
                    written += 1
                else:
                    failures[kind] += 1
                    examples.setdefault(kind, message)
                bar.update(1)

        try:
            await asyncio.gather(*(worker() for _ in range(min(concurrency, max(len(todo), 1)))))
        finally:
            await backend.aclose()
    return written, failures, examples


def run(args) -> int:
    from mood_tagger.commands.common import backend_from_args

    if args.concurrency < 1:
        raise InputError(f"--concurrency {args.concurrency}: expected 1 or more")
    exchanges = load_exchanges([args.file], require_labels=False)
    out = Path(args.out)
    done = done_keys(out)
    todo = [ex for ex in exchanges if record_key(ex.to_json()) not in done]
    skipped = len(exchanges) - len(todo)
    backend = backend_from_args(args)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with out.open("a", encoding="utf-8") as fh:
            written, failures, examples = asyncio.run(
                label_all(backend, todo, fh, concurrency=args.concurrency, progress=not args.quiet,
                          soft=args.soft))
    finally:
        backend.close()
    failed = sum(failures.values())
    print(f"labelled {written}, skipped {skipped} already in {out}, failed {failed} "
          f"(teacher {backend.model_name})")
    if failed:
        for kind, count in failures.most_common():
            print(f"  {kind}: {count}, e.g. {examples[kind]}", file=sys.stderr)
        print("failed exchanges were not written; run the same command again to retry them",
              file=sys.stderr)
        return EXIT_FAILED
    return 0


def add_parser(sub, add_backend_options) -> None:
    p = sub.add_parser("label", help="teacher-label a JSONL file with an LLM (resumable)",
                       description="Teacher-label exchanges; --backend defaults to openai here. "
                       "Re-run the same command to resume or to retry failed exchanges.")
    p.add_argument("file", help="JSONL exchanges; labels are optional and get replaced")
    p.add_argument("--out", required=True, help="labelled JSONL; appended to, resumed if it exists")
    p.add_argument("--concurrency", type=int, default=8, help="requests in flight (default 8)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--soft", action="store_true",
                   help="also keep the teacher's probabilities (teacher_emotion_p, teacher_celebrate_p) "
                   "for distillation; needs --llm-mode one-token with dialect openai or ollama")
    add_backend_options(p)
    p.set_defaults(func=run, backend="openai")
