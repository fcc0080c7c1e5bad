"""Issue 8's fault and load suite: bounded, loopback only. Reproduces each attack against a
real server (and a real misbehaving upstream, tests/fake_vllm.py), prints the figures and
writes docs/reliability.md.

    python scripts/reliability_suite.py [--out docs/reliability.md]

Figures are benchmarks of this machine (load generator on the same cores), not test gates.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mood_tagger.labels import EMOTION_TAGS  # noqa: E402
from mood_tagger.serving.server import wait_until_healthy  # noqa: E402
from tests.fake_vllm import FakeVLLM  # noqa: E402

BODY = {"user_last_message": "2 cộng 3 bằng 5", "pika_response": "Chính xác! Tiếp câu sau nhé."}


class ServerURL(str):
    """A served process's base URL that also knows the process id (for its RSS)."""
    pid: int


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def load(url: str, threads: int, per_thread: int, body: dict) -> tuple[list[float], list[dict]]:
    """`threads` keep-alive clients, each sending `per_thread` requests: latencies ms, bodies."""
    lat: list[float] = []
    out: list[dict] = []
    lock = threading.Lock()

    def client():
        with httpx.Client(base_url=url, timeout=30) as c:
            for _ in range(per_thread):
                t0 = time.perf_counter()
                r = c.post("/v1/tag", json=body)
                ms = (time.perf_counter() - t0) * 1000
                with lock:
                    lat.append(ms)
                    out.append(r.json() | {"_status": r.status_code})

    ts = [threading.Thread(target=client) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return lat, out


@contextmanager
def served(*flags: str):
    """`mood-tagger serve FLAGS` in its own process (as deployed: the load generator's threads
    do not share its GIL), on a free loopback port; yields its URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "mood_tagger", "serve", "--port", str(port),
                             *flags], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = ServerURL(f"http://127.0.0.1:{port}")
    url.pid = proc.pid
    try:
        wait_until_healthy(url)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cascade_server(fake: FakeVLLM):
    return served("--backend", "cascade", "--cascade-threshold", "1", "--llm-base-url", fake.url,
                  "--llm-timeout-ms", "5000")


def llm_burst(fake: FakeVLLM) -> list[str]:
    fake.reset()
    with cascade_server(fake) as url:
        _, out = load(url, 32, 80, BODY | {"deadline_ms": 50})
        reasons = sorted({o["reason"] for o in out})
        t0 = time.perf_counter()
        with httpx.Client(base_url=url, timeout=30) as c:
            while c.post("/v1/tag", json=BODY | {"deadline_ms": 1000}).json()["reason"] != "llm":
                if time.perf_counter() - t0 > 30:
                    break
        back_ms = (time.perf_counter() - t0) * 1000
    return [f"| LLM burst (32 clients x 80, deadline 50 ms, instant upstream), then healthy | "
            f"LLM answers again after {back_ms:.0f} ms (target ≤ 1000); burst reasons {reasons} |"]


def hung_upstream(fake: FakeVLLM) -> list[str]:
    rows = []
    for behaviour in ("hang", "trickle", "http500", "reset", "huge"):
        fake.reset()
        fake.behaviour, fake.trickle_every_s = behaviour, 0.05
        with cascade_server(fake) as url:
            lat, out = load(url, 64, 10, BODY | {"deadline_ms": 50})
        valid = sum(o["_status"] == 200 and o.get("emotion_name") in EMOTION_TAGS for o in out)
        server = [o.get("latency_ms", 0.0) for o in out]
        rows.append(f"| upstream `{behaviour}`, concurrency 64, deadline 50 ms | client p50 "
                    f"{pct(lat, .5):.0f} / p99 {pct(lat, .99):.0f} ms (target p99 ≤ 65); server "
                    f"latency_ms p99 {pct(server, .99):.0f} / max {max(server):.0f}; "
                    f"{valid}/{len(out)} valid tags |")
    fake.reset()
    return rows


def edge(backend: str) -> list[str]:
    rows = []
    with served("--backend", backend) as url, httpx.Client(base_url=url, timeout=30) as c:
        c.post("/v1/tag", json=BODY)
        t0 = time.perf_counter()
        r = c.get("/v1/models", headers={"X-Pad": "a" * 70_000})
        rows.append(f"| 70 KB header | {r.status_code} in {(time.perf_counter() - t0) * 1000:.1f} ms "
                    "(target 431 within 10 ms) |")
        items = [BODY | {"user_last_message": f"{i} cộng 0 bằng {i}" * 20} for i in range(256)]
        alone = []
        for _ in range(20):
            t0 = time.perf_counter()
            c.post("/v1/tag", json=BODY)
            alone.append((time.perf_counter() - t0) * 1000)
        batch = threading.Thread(target=lambda: [httpx.post(url + "/v1/tag/batch", timeout=60,
                                                            json={"items": items}) for _ in range(5)])
        during = []
        batch.start()
        while batch.is_alive():
            t0 = time.perf_counter()
            c.post("/v1/tag", json=BODY)
            during.append((time.perf_counter() - t0) * 1000)
        rows.append(f"| single request while 256-item batches run | max {max(during):.1f} ms vs "
                    f"{pct(alone, .5):.1f} ms alone (target delay ≤ 50 ms), {len(during)} samples |")
        body = '{"model": "\\ud800", "messages": [{"role": "user", "content": "[CONTEXT]\\n' \
               'user_last_message: \\"5\\"\\npika_response: \\"Đúng!\\""}]}'
        r = c.post("/v1/chat/completions", content=body.encode(),
                   headers={"Content-Type": "application/json"})
        rows.append(f"| lone surrogate in chat `model` | {r.status_code}, then "
                    f"{c.post('/v1/tag', json=BODY).status_code} on the same connection |")
        n = min(20_000, resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 200)
        idle = [socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])))
                for _ in range(n)]
        t0 = time.perf_counter()
        ok = httpx.post(url + "/v1/tag", json=BODY, timeout=30).status_code
        first_ms = (time.perf_counter() - t0) * 1000
        time.sleep(6)                                   # keep_alive_s 5: the server closes them
        closed = sum(_closed(sock) for sock in idle)
        after = httpx.post(url + "/v1/tag", json=BODY, timeout=30).status_code
        for sock in idle:
            sock.close()
        how = ("a fast refusal over limit_connections 4096, not a hang" if ok == 503 else
               "served: the server had not yet accepted the idle sockets past its limit")
        rows.append(f"| {n} idle connections (never send a byte) | while they are open a new "
                    f"client gets {ok} in {first_ms:.0f} ms ({how}); {closed}/{n} closed by the "
                    f"server after the 5 s idle timeout, then a new client gets {after} |")
        lat, out = load(url, 256, 8, BODY | {"deadline_ms": 50})
        shed = sum(o.get("reason") in ("overloaded", "deadline_passed") for o in out)
        late = sum(o.get("latency_ms", 0) > 50 for o in out)
        five = sum(o["_status"] >= 500 for o in out)
        rows.append(f"| overload: 256 clients x 8, deadline 50 ms | client p50 "
                    f"{pct(lat, .5):.0f} / p99 {pct(lat, .99):.0f} ms; {shed} shed with the fallback "
                    f"tag, {late} with latency_ms > 50, {five} 5xx |")
    return [f"| **{backend}** " + row[2:] for row in rows]


def fuzz(n: int = 10_000) -> list[str]:
    """`n` requests from hypothesis (derandomised, so the same every run) against the default
    backend: well-formed exchanges with any text, JSON with our field names and any values,
    and raw bytes, on the three POST routes. Any 5xx is a failure."""
    from hypothesis import HealthCheck, given, settings, strategies as st
    statuses: Counter = Counter()
    scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=40),
                       st.floats(allow_nan=False, allow_infinity=False))
    value = st.recursive(scalar, lambda inner: st.lists(inner, max_size=3)
                         | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
    names = st.sampled_from(["user_last_message", "pika_response", "history", "deadline_ms",
                             "items", "model", "messages", "stream", "n", "max_tokens", "histroy"])
    exchange = st.fixed_dictionaries(
        {"user_last_message": st.text(min_size=1, max_size=80), "pika_response": st.text(min_size=1, max_size=200)},
        optional={"history": st.lists(st.fixed_dictionaries({"role": st.sampled_from(["pika", "child", "x"]),
                                                             "text": st.text(max_size=60)}), max_size=4),
                  "deadline_ms": st.one_of(st.integers(-5, 500), st.floats(0.1, 500))})
    body = st.one_of(exchange.map(lambda b: json.dumps(b).encode()),
                     st.dictionaries(names | st.text(max_size=10), value, max_size=5).map(
                         lambda b: json.dumps(b).encode()),
                     st.binary(max_size=200))
    route = st.sampled_from(["/v1/tag", "/v1/tag/batch", "/v1/chat/completions"])
    with served() as url, httpx.Client(base_url=url, timeout=30) as c:
        @settings(max_examples=n, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(route, body)
        def post(path: str, content: bytes) -> None:
            statuses[c.post(path, content=content, headers={"Content-Type": "application/json"}).status_code] += 1

        post()
    five = sum(v for k, v in statuses.items() if k >= 500)
    return [f"| {sum(statuses.values())} fuzzed requests (hypothesis, derandomised: exchanges with any "
            f"text, JSON with our field names and any values, raw bytes; 3 routes; default backend) | "
            f"statuses {dict(sorted(statuses.items()))}: {five} 5xx (target 0) |"]


def soak(backend: str, seconds: float = 60.0, clients: int = 8) -> list[str]:
    """`clients` keep-alive clients as fast as they can for `seconds`: errors and server RSS."""
    lat: list[float] = []
    errors: Counter = Counter()
    lock = threading.Lock()
    with served("--backend", backend) as url:
        load(url, clients, 20, BODY)                              # warm-up
        start_rss = rss_mb(url.pid)
        stop = time.monotonic() + seconds

        def client():
            with httpx.Client(base_url=url, timeout=30) as c:
                while time.monotonic() < stop:
                    t0 = time.perf_counter()
                    try:
                        status = c.post("/v1/tag", json=BODY).status_code
                    except httpx.HTTPError as exc:
                        status = type(exc).__name__
                    with lock:
                        lat.append((time.perf_counter() - t0) * 1000)
                        if status != 200:
                            errors[status] += 1

        ts = [threading.Thread(target=client) for _ in range(clients)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        end_rss = rss_mb(url.pid)
    return [f"| **{backend}** {seconds:.0f} s soak, {clients} clients flat out | {len(lat)} requests "
            f"({len(lat) / seconds:.0f}/s), {sum(errors.values())} errors {dict(errors) or ''}, p99 "
            f"{pct(lat, .99):.1f} ms; server RSS {start_rss:.1f} → {end_rss:.1f} MB |"]


def _closed(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "reliability.md"))
    args = ap.parse_args()
    fake = FakeVLLM().start()
    rows = llm_burst(fake) + hung_upstream(fake) + edge("classifier") + edge("encoder") + fuzz() \
        + soak("classifier") + soak("encoder")
    fake.stop()
    text = "\n".join([
        "# Reliability under faults and load (issue 8)", "",
        f"`python scripts/reliability_suite.py`, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, load generator on the same cores, loopback only, "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}.", "",
        "| attack | result |", "|---|---|", *rows, "",
        "Client-side percentiles include the load generator's own threads on the same 2 "
        "cores; `latency_ms` in the answers is the server's time since acceptance.", "",
        "## The settings (MOOD_TAGGER_*)", "",
        "| setting | default | does |", "|---|---|---|",
        "| `max_concurrency` / `max_queue` | 64 / 256 | taggings at once / waiting; beyond, or when "
        "no slot frees before the deadline, the fallback tag at once (`reason: overloaded`) |",
        "| `overload_503` | false | shed with 503 + `Retry-After: 1` instead |",
        "| `max_header_bytes` | 65536 | 431 past it (h11 refuses a larger incomplete header "
        "block with 400 before parsing it) |",
        "| `limit_connections` / `keep_alive_s` | 4096 / 5 | uvicorn's connection cap (503) and "
        "idle keep-alive timeout |",
        "| `graceful_shutdown_s` | 10 | at SIGTERM, in-flight requests finish (each within its "
        "deadline, with the fallback tag if need be) |",
        "| `allowed_hosts` | any | Host allowlist against DNS rebinding (421) |",
        "| `api_key_file` | none | the bearer key from a file, not in `ps`; an empty key is refused |",
        "| `llm_api_key_file` | none | the LLM server's bearer key from a file (`--llm-api-key-file`), "
        "not in `ps` |",
        "", "Regression tests: tests/test_reliability_llm.py (the LLM pool lock-up, every "
        "misbehaving upstream), tests/test_reliability_server.py, "
        "tests/test_reliability_shutdown.py (a real SIGTERM).", "",
        "Metrics: `mood_tagger_in_flight`, `mood_tagger_queued`, `mood_tagger_shed_total{reason}`, "
        "`mood_tagger_tags_total{backend,reason}` (reason `llm_busy`: the LLM tier already had "
        "64 requests in flight).", ""])
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)
    print(json.dumps({"written": args.out}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
