"""`mood-tagger bench`: in-process and over-HTTP latency, throughput, errors, memory.

The HTTP part starts a real `mood-tagger serve` subprocess on a free port and loads it
with the keep-alive generator of http_load.py, sampling the server's memory from /proc.
"""

from __future__ import annotations

import asyncio
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from tqdm.auto import tqdm

from mood_tagger.bench.http_load import run_load
from mood_tagger.bench.payloads import EXCHANGES, chat_bodies, tag_bodies
from mood_tagger.data.inputs import make_exchange
from mood_tagger.evaluation.metrics import latency_summary


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform()}


def percentiles(ms: list[float]) -> dict:
    return latency_summary(ms) or dict.fromkeys(
        ("latency_ms_p50", "latency_ms_p95", "latency_ms_p99", "latency_ms_mean"))


def bench_in_process(backend, iterations: int, warmup: int = 500) -> dict:
    """Exactly what the service does per request: validate/normalise, then tag."""
    inputs = [(u, p, h) for u, p, h in EXCHANGES]
    for i in range(warmup):
        backend.tag(make_exchange(*inputs[i % len(inputs)]))
    times = []
    for i in tqdm(range(iterations), desc="in-process", unit="req", leave=False):
        u, p, h = inputs[i % len(inputs)]
        start = time.perf_counter()
        backend.tag(make_exchange(u, p, h))
        times.append((time.perf_counter() - start) * 1000)
    return {"iterations": iterations, **percentiles(times),
            "throughput_rps": iterations / (sum(times) / 1000)}


def _rss_kb(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class MemorySampler(threading.Thread):
    def __init__(self, pid: int, every_s: float = 1.0):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every_s
        self.samples: list[tuple[float, float]] = []
        self._halt = threading.Event()

    def run(self):
        start = time.perf_counter()
        while not self._halt.wait(self.every):
            try:
                self.samples.append((time.perf_counter() - start, _rss_kb(self.pid) / 1024))
            except OSError:
                break

    def stop(self) -> list[tuple[float, float]]:
        self._halt.set()
        self.join()
        return self.samples


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`mood-tagger serve` in a subprocess, ready when /healthz answers 200."""

    def __init__(self, env: dict[str, str], workers: int = 1):
        """`env`: MOOD_TAGGER_* settings (backend, model, LLM) for the server process."""
        self.port = _free_port()
        cmd = [sys.executable, "-m", "mood_tagger.cli", "serve", "--port", str(self.port),
               "--workers", str(workers)]
        self.log = tempfile.TemporaryFile()  # read only if the server fails; a pipe could fill up
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.log,
                                     env=os.environ | env)

    def __enter__(self) -> "ServerProcess":
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise RuntimeError("server exited: " + self.log.read().decode()[-2000:])
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not become ready in 60 s")

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def _load(port: int, path: str, bodies, concurrency: int, seconds: float,
          token: str | None) -> dict:
    r = asyncio.run(run_load("127.0.0.1", port, path, bodies, concurrency=concurrency,
                             seconds=seconds, token=token))
    return {"route": path, "concurrency": concurrency, "requests": r.requests, "errors": r.errors,
            "seconds": round(r.seconds, 2), "throughput_rps": len(r.latencies_ms) / r.seconds,
            **percentiles(r.latencies_ms)}


def bench_http(env: dict[str, str], *, seconds: float, soak_s: float,
               concurrencies=(1, 8, 64)) -> dict:
    token = env.get("MOOD_TAGGER_API_KEY")
    runs = []
    with ServerProcess(env) as server:
        pid = server.proc.pid
        sampler = MemorySampler(pid, every_s=0.5)
        sampler.start()
        for c in tqdm(concurrencies, desc="http /v1/tag", leave=False):
            runs.append(_load(server.port, "/v1/tag", tag_bodies(), c, seconds, token))
        runs.append(_load(server.port, "/v1/chat/completions", chat_bodies(), 1, seconds, token))
        sampler.stop()
        soak = None
        if soak_s > 0:
            soak_sampler = MemorySampler(pid, every_s=1.0)
            soak_sampler.start()
            soak = _load(server.port, "/v1/tag", tag_bodies(), 8, soak_s, token)
            rss = [mb for _, mb in soak_sampler.stop()]
            soak["rss_mb_first"], soak["rss_mb_last"] = rss[0], rss[-1]
            soak["rss_mb_max"] = max(rss)
            soak["rss_mb_growth"] = rss[-1] - rss[0]
        peak_mb = _rss_kb(pid, "VmHWM") / 1024
    return {"runs": runs, "soak": soak, "server_peak_rss_mb": peak_mb}
