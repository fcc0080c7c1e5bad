"""Micro-batching off the event loop: requests that arrive within `max_wait_ms` of each
other run as one batch in a single worker thread (onnxruntime releases the GIL), so the
event loop never blocks on the model and concurrent requests share one forward pass.

Items whose deadline has passed before their batch starts are dropped (their waiter has
already answered with the fallback), so an overload does not snowball.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Generic, Sequence, TypeVar

X = TypeVar("X")
Y = TypeVar("Y")


class MicroBatcher(Generic[X, Y]):
    def __init__(self, fn: Callable[[Sequence[X]], Sequence[Y]], *, max_batch: int = 16,
                 max_wait_ms: float = 2.0, name: str = "batcher"):
        self.fn, self.max_batch, self.max_wait = fn, max_batch, max_wait_ms / 1000
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._queue: asyncio.Queue | None = None
        self._worker: asyncio.Task | None = None
        self.batches = 0          # counters for /metrics and tests
        self.items = 0
        self.dropped = 0

    def _start(self) -> asyncio.Queue:
        if self._queue is None or self._worker is None or self._worker.done():
            self._queue = asyncio.Queue()
            self._worker = asyncio.get_running_loop().create_task(self._run(self._queue))
        return self._queue

    async def submit(self, item: X, deadline: float | None = None) -> Y:
        """The result for `item`; `deadline` is a time.perf_counter() instant after which
        nobody waits for it any more."""
        fut = asyncio.get_running_loop().create_future()
        self._start().put_nowait((item, deadline, fut))
        return await fut

    async def _run(self, queue: asyncio.Queue) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await queue.get()]
            until = loop.time() + self.max_wait
            while len(batch) < self.max_batch:
                left = until - loop.time()
                if left <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(queue.get(), left))
                except asyncio.TimeoutError:
                    break
            now = time.perf_counter()
            live = []
            for x, d, f in batch:
                if f.done() or (d is not None and d <= now):
                    self.dropped += 1
                    f.cancel()
                else:
                    live.append((x, f))
            if not live:
                continue
            try:
                results = await loop.run_in_executor(self._executor, self.fn, [x for x, _ in live])
            except Exception as exc:      # noqa: BLE001 - handed to every waiter
                for _x, f in live:
                    if not f.done():
                        f.set_exception(exc)
                continue
            self.batches += 1
            self.items += len(live)
            for (_x, f), r in zip(live, results):
                if not f.done():
                    f.set_result(r)

    async def aclose(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        self._executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
