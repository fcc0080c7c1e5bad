"""The CLI end to end: train → eval (--json, --plot) → tag, plus error exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

from mood_tagger.cli import main
from mood_tagger.labels import CELEBRATE_VALUES, EMOTION_TAGS

REQUIRED_EVAL_KEYS = {"n", "emotion_strict", "emotion_lenient", "emotion_macro_f1",
                      "celebrate_accuracy", "celebrate_precision", "celebrate_recall",
                      "celebrate_f1", "latency_ms_p50", "latency_ms_p99", "by_lang"}


def test_train_eval_tag_end_to_end(tiny_corpus, tmp_path, capsys):
    out = tmp_path / "models" / "cli"
    assert main(["train", "--data", str(tiny_corpus), "--out", str(out), "--epochs", "60",
                 "--hidden", "0",
                 "--config", '{"lr": 0.05, "min_count": 1, "dropout": 0.0}', "--eval", str(tiny_corpus),
                 "--quiet"]) == 0
    assert "saved" in capsys.readouterr().out
    card = json.loads((out / "config.json").read_text())
    assert card["metrics"]["n"] == 14 and card["metrics"]["dataset"] == "tiny.jsonl"

    plot = tmp_path / "cm.png"
    assert main(["eval", str(tiny_corpus), "--model", str(out), "--json", "--plot", str(plot)]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert REQUIRED_EVAL_KEYS <= metrics.keys()
    assert metrics["n"] == 14 and metrics["emotion_strict"] >= 0.85
    assert set(metrics["by_lang"]) == {"vi", "en"}
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    assert main(["eval", str(tiny_corpus), "--model", str(out)]) == 0
    report = capsys.readouterr().out
    assert "celebrate_precision" in report and "thats_right" in report

    history = json.dumps([{"role": "pika", "text": "Con voi ăn gì?"}], ensure_ascii=False)
    assert main(["tag", "--model", str(out), "--user", "cỏ ạ", "--pika", "Đúng rồi, giỏi quá!",
                 "--history", history]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["emotion_name"] in EMOTION_TAGS and result["celebrate"] in CELEBRATE_VALUES
    assert result["backend"] == "classifier" and len(result["emotion_top"]) == 3


def test_cli_errors_are_clear_with_exit_codes(tiny_model_path, tmp_path, capsys):
    assert main(["tag", "--model", str(tiny_model_path), "--user", " ", "--pika", "x"]) == 2
    assert "user_last_message: must not be empty" in capsys.readouterr().err
    assert main(["tag", "--model", str(tiny_model_path), "--user", "a", "--pika", "b",
                 "--history", "[oops"]) == 2
    assert "--history: invalid JSON" in capsys.readouterr().err
    assert main(["tag", "--model", str(tmp_path), "--user", "a", "--pika", "b"]) == 3
    assert "not a model folder" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "missing.jsonl"), "--model", str(tiny_model_path)]) == 2
    assert "no such file" in capsys.readouterr().err


def test_console_script_runs(tiny_model_path):
    proc = subprocess.run([sys.executable, "-m", "mood_tagger.cli", "tag", "--model",
                           str(tiny_model_path), "--user", "I like pink", "--pika", "Pink is lovely!"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["emotion_name"] in EMOTION_TAGS


def test_eval_against_an_llm_counts_failures_instead_of_stopping(fake, tiny_corpus, capsys):
    fake.reset()
    calls = {"n": 0}

    def every_third_fails(body):
        calls["n"] += 1
        return "http500" if calls["n"] % 3 == 0 else "ok"
    fake.behaviour, fake.label = every_third_fails, ("happy", "no")
    assert main(["eval", str(tiny_corpus), "--json", "--backend", "openai", "--llm-base-url",
                 fake.url, "--llm-model", "teacher", "--llm-timeout-ms", "5000"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["failures"] == {"upstream_http_error": 4}   # requests 3, 6, 9, 12 of 14
    assert metrics["n"] == 10 and metrics["backend"] == "openai"
    assert len(fake.requests) == 14  # no warm-up calls to an LLM
    fake.reset()


def test_no_command_imports_the_cli_module_back():
    import ast
    from pathlib import Path

    import mood_tagger.commands as commands
    for path in Path(commands.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                assert node.module != "mood_tagger.cli", path.name
            elif isinstance(node, ast.Import):
                assert all(a.name != "mood_tagger.cli" for a in node.names), path.name
