"""Write docs/benchmarks.md and its JSON twin from a bench result."""

from __future__ import annotations

import json
from pathlib import Path

PLAN_LLM_ROWS = [
    ("Qwen1.5-0.5B, second LLM call (measured by the Pika team)", "72-75 ms", "GPU (RTX 3090)"),
    ("vLLM + Phi-3-mini-4k-instruct AWQ (claimed in the plan)", "30-45 ms avg, 50-60 ms p95",
     "GPU (T4/L4)"),
    ("TensorRT-LLM + Phi-3-mini AWQ (claimed in the plan)", "15-25 ms avg", "GPU (L4)"),
]


def _f(x, digits=3):
    return "–" if x is None else f"{x:.{digits}f}"


def render(result: dict, command: str, gpu: dict | None, raw: str = "benchmarks.json") -> str:
    m, inproc, http = result["machine"], result["in_process"], result["http"]
    lines = [
        "# Benchmarks",
        "",
        f"Measured with `{command}` on {result['date']}.",
        f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']} ({m['platform']}).",
        f"Backend `{result['backend']}`, model `{result['model']}`. Raw numbers: `{raw}`.",
        "",
        "## In process (one exchange at a time: validate + tag)",
        "",
        "| iterations | p50 ms | p95 ms | p99 ms | mean ms | req/s (1 core) |",
        "|---|---|---|---|---|---|",
        f"| {inproc['iterations']} | {_f(inproc['latency_ms_p50'])} | {_f(inproc['latency_ms_p95'])} | "
        f"{_f(inproc['latency_ms_p99'])} | {_f(inproc['latency_ms_mean'])} | {inproc['throughput_rps']:.0f} |",
        "",
        "## Over HTTP (real `mood-tagger serve`, 1 worker, keep-alive, loopback)",
        "",
        "| route | concurrency | requests | errors | req/s | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in http["runs"]:
        lines.append(f"| `{r['route']}` | {r['concurrency']} | {r['requests']} | {r['errors']} | "
                     f"{r['throughput_rps']:.0f} | {_f(r['latency_ms_p50'])} | {_f(r['latency_ms_p95'])} | "
                     f"{_f(r['latency_ms_p99'])} |")
    soak = http.get("soak")
    if soak:
        lines += ["", f"**Soak**: {soak['seconds']:.0f} s at concurrency {soak['concurrency']}: "
                  f"{soak['requests']} requests, {soak['errors']} errors, "
                  f"{soak['throughput_rps']:.0f} req/s, p99 {_f(soak['latency_ms_p99'])} ms; server RSS "
                  f"{soak['rss_mb_first']:.1f} MB after the first second → "
                  f"{soak['rss_mb_last']:.1f} MB at the end (max {soak['rss_mb_max']:.1f} MB, "
                  f"growth {soak['rss_mb_growth']:+.1f} MB)."]
    lines += ["", f"Server peak RSS (VmHWM): {http['server_peak_rss_mb']:.1f} MB.", "",
              "The load generator runs on the same machine and shares its cores with the server.",
              "", "## The LLM path of the original plan, for comparison", "",
              "| tagger | latency per tagging | hardware |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in PLAN_LLM_ROWS]
    c1 = next((r for r in http["runs"] if r["concurrency"] == 1 and r["route"] == "/v1/tag"), None)
    if c1:
        lines.append(f"| **mood-tagger classifier over HTTP (this page)** | **{_f(c1['latency_ms_p50'])} ms "
                     f"p50, {_f(c1['latency_ms_p99'])} ms p99** | CPU ({m['cores']} cores) |")
    if gpu:
        lines += ["", gpu.get("markdown", "")]
    else:
        lines += ["", "GPU measurements of the LLM path: see `docs/gpu-llm-latency.md` when present."]
    return "\n".join(lines) + "\n"


def write(result: dict, out_md: Path, command: str) -> tuple[Path, Path]:
    out_md = Path(out_md)
    out_md.parent.mkdir(parents=True, exist_ok=True)
    out_json = out_md.with_suffix(".json")
    out_json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    gpu_file = out_md.parent / "gpu-llm-latency.json"
    gpu = json.loads(gpu_file.read_text()) if gpu_file.is_file() else None
    out_md.write_text(render(result, command, gpu, out_json.name), encoding="utf-8")
    return out_md, out_json
