"""Load and validate JSONL files in the format of LABELS.md.

Unknown fields are kept in `Exchange.extra` and otherwise ignored. Every problem is a
DataError naming file, line, field, what was expected and what was found.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any, Iterable, Iterator

from mood_tagger.data.schema import Exchange, Turn
from mood_tagger.data.soft_labels import check_soft_fields
from mood_tagger.errors import DataError
from mood_tagger.labels import CELEBRATE_VALUES, EMOTION_TAGS, LANGS, ROLES

KNOWN_FIELDS = {"id", "lang", "history", "user_last_message", "pika_response",
                "emotion_name", "emotion_ok", "celebrate"}


def _found(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _text(obj: dict, name: str, where: dict) -> str:
    if name not in obj:
        raise DataError("missing; expected a non-empty string", field=name, **where)
    value = obj[name]
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"expected a non-empty string, found {_found(value)}", field=name, **where)
    if unicodedata.normalize("NFC", value) != value:
        raise DataError("text is not Unicode NFC; normalise it (unicodedata.normalize('NFC', s))",
                        field=name, **where)
    return value


def _history(value: object, where: dict) -> tuple[Turn, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise DataError(f"expected a list of {{role, text}} turns, found {_found(value)}",
                        field="history", **where)
    turns = []
    for i, turn in enumerate(value):
        name = f"history[{i}]"
        if not isinstance(turn, dict):
            raise DataError(f"expected an object {{\"role\", \"text\"}}, found {_found(turn)}",
                            field=name, **where)
        role = turn.get("role")
        if role not in ROLES:
            raise DataError(f"role: expected one of {list(ROLES)}, found {_found(role)}",
                            field=name, **where)
        turns.append(Turn(role=role, text=_turn_text(turn, name, where)))
    return tuple(turns)


def _turn_text(turn: dict, name: str, where: dict) -> str:
    text = turn.get("text")
    if not isinstance(text, str):
        raise DataError(f"text: expected a string, found {_found(text)}", field=name, **where)
    return unicodedata.normalize("NFC", text)


def parse_record(obj: object, *, path: str | None = None, line: int | None = None,
                 require_labels: bool = True) -> Exchange:
    """Turn one decoded JSON value into an Exchange, or raise DataError."""
    where: dict[str, Any] = {"path": path, "line": line}
    if not isinstance(obj, dict):
        raise DataError(f"expected a JSON object per line, found {_found(obj)}", **where)
    user = _text(obj, "user_last_message", where)
    pika = _text(obj, "pika_response", where)
    history = _history(obj.get("history"), where)
    lang = obj.get("lang")
    if lang is not None and lang not in LANGS:
        raise DataError(f"expected one of {list(LANGS)}, found {_found(lang)}", field="lang", **where)
    emotion = obj.get("emotion_name")
    celebrate = obj.get("celebrate")
    ok: tuple[str, ...] = ()
    if require_labels or emotion is not None or celebrate is not None:
        if emotion not in EMOTION_TAGS:
            raise DataError(f"expected one of the 13 tags {list(EMOTION_TAGS)}, found {_found(emotion)}",
                            field="emotion_name", **where)
        if celebrate not in CELEBRATE_VALUES:
            raise DataError(f"expected the string \"yes\" or \"no\", found {_found(celebrate)}",
                            field="celebrate", **where)
        raw_ok = obj.get("emotion_ok", [emotion])
        if not isinstance(raw_ok, list) or any(t not in EMOTION_TAGS for t in raw_ok):
            raise DataError(f"expected a list of tags from {list(EMOTION_TAGS)}, found {_found(raw_ok)}",
                            field="emotion_ok", **where)
        if emotion not in raw_ok:
            raise DataError(f"must contain emotion_name {_found(emotion)}, found {_found(raw_ok)}",
                            field="emotion_ok", **where)
        ok = tuple(dict.fromkeys(raw_ok))
    record_id = obj.get("id")
    if record_id is not None and not isinstance(record_id, str):
        raise DataError(f"expected a string, found {_found(record_id)}", field="id", **where)
    check_soft_fields(obj, where)
    extra = {k: v for k, v in obj.items() if k not in KNOWN_FIELDS}
    return Exchange(user_last_message=user, pika_response=pika, history=history, id=record_id,
                    lang=lang, emotion_name=emotion, emotion_ok=ok, celebrate=celebrate, extra=extra)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read file ({exc.strerror}); check the path", path=str(path)) from exc


def _parse_line(line: bytes, path: Path, number: int, require_labels: bool) -> Exchange:
    try:
        obj = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise DataError(f"invalid UTF-8 at byte {exc.start}; save the file as UTF-8",
                        path=str(path), line=number) from exc
    except json.JSONDecodeError as exc:
        raise DataError(f"invalid JSON ({exc.msg} at column {exc.colno}); one JSON object per line",
                        path=str(path), line=number) from exc
    return parse_record(obj, path=str(path), line=number, require_labels=require_labels)


def _numbered_lines(raw: bytes) -> Iterator[tuple[int, bytes]]:
    for number, line in enumerate(raw.splitlines(), start=1):
        if line.strip():
            yield number, line


def is_test_path(path: Path) -> bool:
    """Held-out test data lives under a folder named `test` (e.g. data/test/): never trained on."""
    return "test" in path.parts[:-1]


def _is_review_path(path: Path) -> bool:
    """Review annotations live under a folder named `reviews` (their own format)."""
    return "reviews" in path.parts[:-1]


def _not_training_data(path: Path) -> bool:
    """Held-out test data (under `test/`) or review annotations (under `reviews/`); `path` is
    relative to the parent of the folder given, so the folder's own name counts too."""
    return is_test_path(path) or _is_review_path(path)


def expand_paths(paths: Iterable[str | Path], *, for_training: bool = False,
                 skip_reviews: bool = False) -> list[Path]:
    """Files as given; folders become their *.jsonl files (recursively, sorted).
    `for_training` skips held-out test folders and review annotations (`reviews/`) inside a
    folder, and refuses a test file given; `skip_reviews` skips only the annotations."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*.jsonl") if not (
                (for_training and _not_training_data(f.relative_to(p.parent)))
                or (skip_reviews and _is_review_path(f.relative_to(p.parent)))))
            if not found:
                raise DataError("folder holds no *.jsonl file", path=str(p))
            out.extend(found)
        elif p.exists():
            if for_training and is_test_path(p.resolve()):
                raise DataError("is held-out test data (under a 'test' folder); never train on "
                                "it: pass the training folders instead", path=str(p))
            out.append(p)
        else:
            raise DataError("no such file or folder; check the path", path=str(p))
    return out


def load_exchanges(paths: Iterable[str | Path], *, require_labels: bool = True,
                   for_training: bool = False) -> list[Exchange]:
    """Load every exchange of the given files/folders; the first problem raises DataError."""
    return [_parse_line(line, path, number, require_labels)
            for path in expand_paths(paths, for_training=for_training)
            for number, line in _numbered_lines(_read(path))]


def check_file(path: str | Path, *, require_labels: bool = True,
               max_errors: int = 50) -> tuple[list[Exchange], list[DataError]]:
    """Validate a whole file, collecting every bad line instead of stopping at the first."""
    path = Path(path)
    good: list[Exchange] = []
    errors: list[DataError] = []
    try:
        raw = _read(path)
    except DataError as exc:
        return [], [exc]
    for number, line in _numbered_lines(raw):
        try:
            good.append(_parse_line(line, path, number, require_labels))
        except DataError as exc:
            errors.append(exc)
            if len(errors) >= max_errors:
                break
    return good, errors


def duplicate_ids(paths: Iterable[Path]) -> list[DataError]:
    """Every line whose "id" an earlier line (of any of the files) already has."""
    first: dict[str, str] = {}
    errors: list[DataError] = []
    for path in paths:
        try:
            lines = list(_numbered_lines(_read(Path(path))))
        except DataError:
            continue                      # check_file reports unreadable files
        for number, line in lines:
            try:
                record_id = json.loads(line.decode("utf-8")).get("id")
            except (ValueError, AttributeError):
                continue                  # check_file reports the line itself
            if not isinstance(record_id, str):
                continue
            if record_id in first:
                errors.append(DataError(f"duplicate id {record_id!r}, first at {first[record_id]}; "
                                        "give every exchange its own id", path=str(path),
                                        line=number, field="id"))
            else:
                first[record_id] = f"{path}:{number}"
    return errors


def write_exchanges(path: str | Path, exchanges: Iterable[Exchange]) -> int:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as fh:
        for ex in exchanges:
            fh.write(json.dumps(ex.to_json(), ensure_ascii=False) + "\n")
            count += 1
    return count
