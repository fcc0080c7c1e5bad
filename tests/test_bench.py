"""`mood-tagger bench` runs end to end (tiny durations): it measures, it does not assert speed.

It runs as a subprocess, as a user runs it: its load generator and server must not share
this test process with the timing-sensitive deadline tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def test_bench_writes_markdown_and_json(tiny_model_path, tmp_path):
    out = tmp_path / "bench.md"
    env = os.environ | {"MOOD_TAGGER_API_KEY": "bench-key"}  # the load must carry the token
    proc = subprocess.run([sys.executable, "-m", "mood_tagger.cli", "bench", "--model",
                           str(tiny_model_path), "--iterations", "200", "--seconds", "0.3",
                           "--soak", "1", "--out", str(out)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(out.with_suffix(".json").read_text())
    assert result["in_process"]["iterations"] == 200
    runs = result["http"]["runs"]
    assert [(r["route"], r["concurrency"]) for r in runs] == [
        ("/v1/tag", 1), ("/v1/tag", 8), ("/v1/tag", 64), ("/v1/chat/completions", 1)]
    assert all(r["errors"] == 0 and r["requests"] > 0 for r in runs)
    assert result["http"]["soak"]["errors"] == 0
    assert result["http"]["server_peak_rss_mb"] > 0
    text = out.read_text()
    assert "| `/v1/tag` | 64 |" in text and "Qwen1.5-0.5B" in text and result["machine"]["cores"]
