"""A lean HTTP/1.1 keep-alive load generator on asyncio streams.

A Python HTTP client library would spend more CPU than the server under test on a
2-core box; this one sends pre-encoded requests and reads Content-Length bodies.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    concurrency: int
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies_ms) + self.errors


def _request(host: str, port: int, path: str, body: bytes, token: str | None) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"{auth}Content-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status


async def _worker(host, port, requests, stop_at, result: LoadResult, record_from: float):
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for req in requests:
            if time.perf_counter() >= stop_at:
                break
            start = time.perf_counter()
            try:
                writer.write(req)
                status = await _read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                result.errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            if start < record_from:
                continue
            if status == 200:
                result.latencies_ms.append((time.perf_counter() - start) * 1000)
            else:
                result.errors += 1
    finally:
        writer.close()


async def run_load(host: str, port: int, path: str, bodies: list[bytes], *, concurrency: int,
                   seconds: float, warmup_s: float = 1.0, token: str | None = None) -> LoadResult:
    """Closed-loop load: `concurrency` connections, each sending back-to-back requests."""
    encoded = [_request(host, port, path, b, token) for b in bodies]
    result = LoadResult(concurrency=concurrency)
    start = time.perf_counter()
    record_from = start + warmup_s
    stop_at = record_from + seconds
    workers = [_worker(host, port, itertools.cycle(encoded[i % len(encoded):] + encoded[:i % len(encoded)]),
                       stop_at, result, record_from) for i in range(concurrency)]
    await asyncio.gather(*workers)
    result.seconds = time.perf_counter() - record_from
    return result
