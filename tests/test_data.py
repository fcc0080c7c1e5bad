"""The JSONL loader/validator: every bad line names file, line, field, expected and found."""

from __future__ import annotations

import json

import pytest

from mood_tagger.cli import main
from mood_tagger.data.jsonl import check_file, load_exchanges
from mood_tagger.errors import DataError
from tests.conftest import make_rows, write_jsonl

GOOD = make_rows()[0]


def _bad_file(tmp_path, bad_line: str, line_no: int = 3):
    lines = [json.dumps(GOOD, ensure_ascii=False)] * (line_no - 1) + [bad_line]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("record, field, words", [
    ({k: v for k, v in GOOD.items() if k != "pika_response"}, "pika_response", "missing"),
    (GOOD | {"emotion_name": "joyful"}, "emotion_name", '"joyful"'),
    (GOOD | {"celebrate": True}, "celebrate", "true"),
    (GOOD | {"emotion_ok": ["calm"]}, "emotion_ok", "must contain"),
    (GOOD | {"lang": "fr"}, "lang", '"fr"'),
    (GOOD | {"user_last_message": ""}, "user_last_message", "non-empty"),
    (GOOD | {"history": [{"role": "robot", "text": "hi"}]}, "history[0]", '"robot"'),
    (GOOD | {"user_last_message": "Cha\u0300o"}, "user_last_message", "NFC"),
])
def test_bad_record_names_file_line_field(tmp_path, record, field, words):
    path = _bad_file(tmp_path, json.dumps(record, ensure_ascii=False))
    with pytest.raises(DataError) as info:
        load_exchanges([path])
    message = str(info.value)
    assert message.startswith(f"{path}:3: field '{field}'")
    assert words in message
    assert (info.value.line, info.value.field) == (3, field)


def test_invalid_json_and_utf8_are_reported_with_line(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_bytes(json.dumps(GOOD).encode() + b"\n{not json\n" + b'{"a": "\xff"}\n')
    good, errors = check_file(path)
    assert len(good) == 1
    assert [e.line for e in errors] == [2, 3]
    assert "invalid JSON" in str(errors[0]) and "invalid UTF-8" in str(errors[1])


def test_unknown_fields_are_ignored_but_kept(tmp_path):
    path = write_jsonl(tmp_path / "x.jsonl", [GOOD | {"case": "correct_confirmed", "note": 1}])
    (ex,) = load_exchanges([path])
    assert ex.extra == {"case": "correct_confirmed", "note": 1}
    assert ex.to_json()["case"] == "correct_confirmed"


def test_folder_is_expanded_and_missing_path_is_clear(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", make_rows()[:2])
    (tmp_path / "sub").mkdir()
    write_jsonl(tmp_path / "sub" / "b.jsonl", make_rows()[2:5])
    assert len(load_exchanges([tmp_path])) == 5
    with pytest.raises(DataError, match="no such file"):
        load_exchanges([tmp_path / "nope.jsonl"])


def test_check_data_cli_summarises_and_fails_on_errors(tmp_path, capsys):
    good = write_jsonl(tmp_path / "good.jsonl", make_rows())
    assert main(["check-data", str(good)]) == 0
    out = capsys.readouterr().out
    assert "exchanges: 14" in out and "celebrate: no 8 (57.1%), yes 6 (42.9%)" in out
    bad = _bad_file(tmp_path, json.dumps(GOOD | {"celebrate": "maybe"}), line_no=2)
    assert main(["check-data", str(bad)]) == 2
    assert "bad.jsonl:2: field 'celebrate'" in capsys.readouterr().out


def test_the_corpus_in_the_repository_validates(capsys):
    from pathlib import Path
    data = Path(__file__).resolve().parents[1] / "data"
    assert main(["check-data", str(data)]) == 0, capsys.readouterr().out[-2000:]
    out = capsys.readouterr().out
    assert "all lines valid" in out and "reviews" not in out


def test_training_folders_skip_test_sets_and_review_annotations(tmp_path):
    from mood_tagger.data.jsonl import load_exchanges as load
    from mood_tagger.errors import DataError
    from tests.conftest import make_rows, write_jsonl
    for sub, prefix in (("hand", "h"), ("test", "t"), ("reviews/blind", "r")):
        (tmp_path / "data" / sub).mkdir(parents=True)
        write_jsonl(tmp_path / "data" / sub / "x.jsonl", make_rows(prefix=prefix))
    ids = {ex.id for ex in load([tmp_path / "data"], for_training=True)}
    assert ids and all(i.startswith("h-") for i in ids)
    assert len(load([tmp_path / "data"])) == 3 * len(ids)            # evaluation reads them all
    with pytest.raises(DataError, match="held-out test data"):
        load([tmp_path / "data" / "test" / "x.jsonl"], for_training=True)
