"""The command line an operator meets first: machine-readable check-data, help on every
option, one-line errors, `python -m mood_tagger`."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from mood_tagger.cli import build_parser, main
from tests.conftest import make_rows, write_jsonl


def test_check_data_json_is_only_json_with_errors_and_duplicate_ids(tmp_path, capsys):
    rows = make_rows()
    write_jsonl(tmp_path / "a.jsonl", rows[:3])
    write_jsonl(tmp_path / "b.jsonl", [rows[1], rows[4] | {"celebrate": "maybe"}])
    assert main(["check-data", str(tmp_path), "--json"]) == 2
    captured = capsys.readouterr()
    report = json.loads(captured.out)                     # the whole of stdout is one JSON object
    assert report["n"] == 4 and report["errors"] == 2
    by_field = {p["field"]: p for p in report["problems"]}
    assert by_field["celebrate"]["line"] == 2 and by_field["celebrate"]["path"].endswith("b.jsonl")
    dup = by_field["id"]
    assert dup["path"].endswith("b.jsonl") and dup["line"] == 1
    assert "duplicate id 't-1'" in dup["message"] and "a.jsonl:2" in dup["message"]


def test_check_data_text_mode_flags_duplicates_too(tmp_path, capsys):
    write_jsonl(tmp_path / "a.jsonl", make_rows()[:2] * 2)
    assert main(["check-data", str(tmp_path / "a.jsonl")]) == 2
    out = capsys.readouterr().out
    assert "a.jsonl:3: field 'id': duplicate id 't-0'" in out and "2 problem(s)" in out


def test_every_option_of_every_command_has_help_text():
    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    missing = [f"{name} {action.option_strings or action.dest}"
               for name, sub in commands.choices.items() for action in sub._actions
               if not action.help and not isinstance(action, argparse._HelpAction)]
    assert missing == []


@pytest.mark.parametrize("command", [["serve", "--backend", "nope"],
                                     ["tag", "--backend", "nope", "--user", "a", "--pika", "b"]])
def test_unknown_backend_is_one_line_without_traceback(command):
    run = subprocess.run([sys.executable, "-m", "mood_tagger", *command], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 2 and run.stdout == ""
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith("error: unknown backend 'nope'") and "classifier" in line


def test_python_dash_m_is_the_command():
    run = subprocess.run([sys.executable, "-m", "mood_tagger", "--version"], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0 and run.stdout.startswith("mood-tagger ")
