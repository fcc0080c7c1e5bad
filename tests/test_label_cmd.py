"""`mood-tagger label` end to end against a real fake-vLLM server: teacher labels in LABELS.md
format, concurrency, resume after a torn output file, failures counted and retried."""

from __future__ import annotations

import json

import pytest

from mood_tagger.cli import main
from mood_tagger.data.jsonl import load_exchanges
from tests.fake_vllm import child_message

ROWS = [
    {"id": "u-1", "lang": "vi", "history": [{"role": "pika", "text": "Con voi ăn gì?"}],
     "user_last_message": "cỏ ạ", "pika_response": "Đúng rồi, con giỏi lắm!"},
    {"id": "u-2", "lang": "vi", "user_last_message": "Tớ thích màu xanh",
     "pika_response": "Màu xanh đẹp thật!", "emotion_name": "happy", "emotion_ok": ["happy"],
     "celebrate": "no", "case": "opinion_praised"},
    {"lang": "en", "user_last_message": "dog", "pika_response": "Correct! Dog is con chó."},
    {"id": "u-4", "user_last_message": "con bị ngã", "pika_response": "Ôi, con có đau không?"},
    {"id": "u-5", "lang": "vi", "user_last_message": "FAIL 2 cộng 2 bằng 4",
     "pika_response": "Đúng rồi!"},
    {"id": "u-6", "lang": "vi", "user_last_message": "BAD tớ kể chuyện nè",
     "pika_response": "Hay quá, kể tiếp đi!"},
]


@pytest.fixture(autouse=True)
def _fresh(fake):
    fake.reset()
    fake.label = teacher


def teacher(body: dict) -> tuple[str, str]:
    """A deterministic 'teacher': confirmed answers are proud/yes, the rest calm/no."""
    content = body["messages"][-1]["content"]
    return ("proud", "yes") if ("Đúng rồi" in content or "Correct" in content) else ("calm", "no")


def failing(body: dict) -> str:
    message = child_message(body)
    return "http500" if message.startswith("FAIL") else "invalid_tag" if message.startswith("BAD") else "ok"


@pytest.fixture
def infile(tmp_path):
    path = tmp_path / "unlabelled.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS), encoding="utf-8")
    return path


def label(fake, infile, out, *extra) -> int:
    return main(["label", str(infile), "--out", str(out), "--llm-base-url", fake.url,
                 "--llm-model", "teacher-x", "--llm-dialect", "vllm", "--llm-timeout-ms", "5000",
                 "--quiet", *extra])


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_label_writes_labels_md_lines_with_teacher_source(fake, infile, tmp_path, capsys):
    out = tmp_path / "teacher" / "out.jsonl"
    assert label(fake, infile, out, "--concurrency", "3") == 0
    assert "labelled 6, skipped 0" in capsys.readouterr().out
    records = lines(out)
    assert len(records) == 6 and len(fake.requests) == 6
    assert all(r["source"] == "teacher:teacher-x" and "case" not in r for r in records)
    assert all(r["emotion_ok"] == [r["emotion_name"]] for r in records)
    by_user = {r["user_last_message"]: r for r in records}
    assert (by_user["cỏ ạ"]["emotion_name"], by_user["cỏ ạ"]["celebrate"]) == ("proud", "yes")
    assert by_user["cỏ ạ"]["history"] == ROWS[0]["history"] and by_user["cỏ ạ"]["id"] == "u-1"
    assert (by_user["Tớ thích màu xanh"]["emotion_name"], by_user["dog"]["celebrate"]) == ("calm", "yes")
    assert "id" not in by_user["dog"] and "lang" not in by_user["con bị ngã"]
    assert all(ex.labelled for ex in load_exchanges([out]))     # the project's own loader agrees
    assert {"structured_outputs"} <= fake.requests[0].keys()


def test_label_runs_requests_concurrently(fake, infile, tmp_path):
    fake.behaviour, fake.delay_s = "slow", 0.2
    assert label(fake, infile, tmp_path / "out.jsonl", "--concurrency", "3") == 0
    assert fake.max_in_flight == 3


def test_label_resumes_after_a_partial_output_file(fake, infile, tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    assert label(fake, infile, out) == 0
    full = out.read_text(encoding="utf-8").splitlines(keepends=True)
    # an interrupted run: two complete lines (one without an id) and a torn third one
    out.write_text(full[2] + full[0] + full[1][:25], encoding="utf-8")
    fake.reset()
    fake.label = teacher
    capsys.readouterr()
    assert label(fake, infile, out) == 0
    captured = capsys.readouterr()
    assert "labelled 4, skipped 2" in captured.out and "incomplete last line" in captured.err
    assert len(fake.requests) == 4
    records = lines(out)
    assert len(records) == 6
    assert len({(r.get("id"), r["user_last_message"]) for r in records}) == 6
    fake.reset()
    assert label(fake, infile, out) == 0 and fake.requests == []        # nothing left to do


def test_label_counts_failures_skips_them_and_retries_on_the_next_run(fake, infile, tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    fake.behaviour = failing
    assert label(fake, infile, out, "--concurrency", "2") == 4
    captured = capsys.readouterr()
    assert "labelled 4, skipped 0" in captured.out and "failed 2" in captured.out
    assert "upstream_http_error: 1" in captured.err and "upstream_invalid_output: 1" in captured.err
    assert "run the same command again" in captured.err
    assert {r.get("id") for r in lines(out)} == {"u-1", "u-2", None, "u-4"}
    fake.behaviour = "ok"
    assert label(fake, infile, out) == 0
    assert "labelled 2, skipped 4" in capsys.readouterr().out
    assert {r.get("id") for r in lines(out)} == {"u-1", "u-2", None, "u-4", "u-5", "u-6"}


def test_label_with_the_cascade_writes_only_the_llm_answers(fake, infile, tmp_path, capsys,
                                                             tiny_model_path, monkeypatch):
    monkeypatch.setenv("MOOD_TAGGER_DEFAULT_DEADLINE_MS", "5000")     # room for a slow CI box
    out = tmp_path / "out.jsonl"
    fake.behaviour = failing                # u-5: HTTP 500, u-6: invalid tag → classifier answers
    cascade = ["--backend", "cascade", "--model", str(tiny_model_path)]
    assert label(fake, infile, out, *cascade, "--cascade-threshold", "1.0") == 4
    captured = capsys.readouterr()
    assert "labelled 4, skipped 0" in captured.out and "failed 2" in captured.out
    assert "llm_http_error: 1" in captured.err and "llm_invalid_output: 1" in captured.err
    records = lines(out)
    assert {r.get("id") for r in records} == {"u-1", "u-2", None, "u-4"}
    assert all(r["source"] == "teacher:teacher-x" for r in records)
    fake.reset()                            # a confident classifier never asks the LLM
    assert label(fake, infile, out, *cascade, "--cascade-threshold", "0.0") == 4
    captured = capsys.readouterr()
    assert "labelled 0, skipped 4" in captured.out and "confident: 2" in captured.err
    assert "use --backend openai" in captured.err and fake.requests == []
    assert len(lines(out)) == 4


def test_label_timeouts_are_failures_not_hangs(fake, infile, tmp_path, capsys):
    fake.behaviour = "hang"
    out = tmp_path / "out.jsonl"
    assert main(["label", str(infile), "--out", str(out), "--llm-base-url", fake.url,
                 "--llm-timeout-ms", "100", "--quiet"]) == 4
    assert "upstream_timeout: 6" in capsys.readouterr().err
    assert out.read_text() == ""


def test_label_rejects_bad_arguments_and_corrupt_output(fake, infile, tmp_path, capsys):
    assert label(fake, infile, tmp_path / "a.jsonl", "--concurrency", "0") == 2
    corrupt = tmp_path / "corrupt.jsonl"
    corrupt.write_text('{"id": "u-1"}\nnot json\n{"id": "u-2"}\n', encoding="utf-8")
    assert label(fake, infile, corrupt) == 2
    assert "corrupt.jsonl:2" in capsys.readouterr().err
    assert fake.requests == []


def test_label_soft_keeps_the_teachers_probabilities(fake, infile, tmp_path):
    out = tmp_path / "soft.jsonl"
    assert label(fake, infile, out, "--llm-dialect", "openai", "--llm-mode", "one-token", "--soft") == 0
    records = {r.get("id"): r for r in lines(out)}
    # the fake answers the label code at p 0.7 and the same emotion with the other celebrate at 0.2
    assert records["u-1"]["teacher_emotion_p"] == {"proud": 1.0}
    assert records["u-1"]["teacher_celebrate_p"] == pytest.approx(0.7 / 0.9, abs=1e-5)
    assert records["u-4"]["teacher_celebrate_p"] == pytest.approx(0.2 / 0.9, abs=1e-5)
    assert records["u-4"]["celebrate"] == "no" and records["u-4"]["emotion_name"] == "calm"
    loaded = load_exchanges([out])
    assert {ex.extra["teacher_celebrate_p"] > 0.5 for ex in loaded} == {True, False}


def test_label_soft_refuses_a_teacher_without_probabilities(fake, infile, tmp_path, capsys):
    out = tmp_path / "soft.jsonl"
    assert label(fake, infile, out, "--soft") == 4                      # vllm json: no logprobs
    assert out.read_text(encoding="utf-8") == ""
    assert "no_probabilities: 6" in capsys.readouterr().err
