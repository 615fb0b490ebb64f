"""Dynamic batching: concurrent requests share generation batches on one model.

Each request puts its prompts on a queue and awaits their futures. One worker takes the
oldest prompt, then waits up to `max_wait_ms` for more with an equal key (the generation
settings, and for /v1/translate also the direction and template) until `max_batch_size`
are gathered, and runs them as one `generate(prompts, key)` call in a thread so the event
loop keeps accepting requests. A key that equals no other (a streaming request's) is
always a batch of one. With max_batch_size 1 every prompt runs alone
(the baseline `bench/serve.py` compares against). Prompts whose request has timed out are
dropped before they reach the model.

A batch is shared by strangers, so one request must not fail the others: when a batch
raises, its prompts are run again one by one and only the one that fails alone gets the
error (a batch that fails on a whole-batch cause, such as memory, then fails prompt by
prompt, which costs time but answers all that can be answered).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("lingualift.serve")


@dataclass
class _Item:
    prompt: object
    params: object  # the batch key: items batch together only when their keys are equal
    future: asyncio.Future


class Batcher:
    """The queue and its worker; `submit` is what request handlers call."""

    def __init__(self, generate: Callable[[list, object], list], *,
                 max_batch_size: int = 16, max_wait_ms: float = 10.0):
        self.generate, self.max_batch_size, self.max_wait = generate, max_batch_size, max_wait_ms / 1000
        self.queue: asyncio.Queue[_Item] = asyncio.Queue()
        self.held: list[_Item] = []  # taken from the queue but waiting for a batch with their settings
        self.worker: asyncio.Task | None = None

    def waiting(self) -> int:
        """Prompts not yet in a batch (the `lingualift_queued_prompts` gauge and /health)."""
        return self.queue.qsize() + len(self.held)

    def start(self) -> None:
        self.worker = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self.worker:
            self.worker.cancel()
            await asyncio.gather(self.worker, return_exceptions=True)

    def enqueue(self, prompts: list, params) -> list[asyncio.Future]:
        """Queue the prompts; one future each, settled as its batch finishes (a streaming
        request awaits them one by one; the caller cancels what it no longer needs)."""
        loop = asyncio.get_running_loop()
        items = [_Item(p, params, loop.create_future()) for p in prompts]
        for item in items:
            self.queue.put_nowait(item)
        return [item.future for item in items]

    async def submit(self, prompts: list, params) -> list:
        futures = self.enqueue(prompts, params)
        try:
            return list(await asyncio.gather(*futures))
        except BaseException:  # timed out, or one prompt failed: the request's other prompts are not needed
            for future in futures:
                future.cancel()
            raise

    async def _next(self, timeout: float | None) -> _Item | None:
        try:
            return await (asyncio.wait_for(self.queue.get(), timeout) if timeout is not None else self.queue.get())
        except TimeoutError:
            return None

    async def _gather(self) -> list[_Item]:
        """The oldest live prompt and as many with the same settings as arrive in time."""
        first = self.held.pop(0) if self.held else await self._next(None)
        batch = [first]
        others = [item for item in self.held if item.params == first.params]
        self.held = [item for item in self.held if item.params != first.params]
        batch += others[:self.max_batch_size - 1]
        self.held = others[self.max_batch_size - 1:] + self.held
        deadline = time.perf_counter() + self.max_wait
        while len(batch) < self.max_batch_size:
            # prompts already queued join at once; the wait applies only to ones not yet sent
            item = self.queue.get_nowait() if not self.queue.empty() else \
                await self._next(max(0.0, deadline - time.perf_counter()))
            if item is None:
                break
            (batch if item.params == first.params else self.held).append(item)
        return [item for item in batch if not item.future.done()]

    async def _run(self) -> None:
        while True:
            batch: list[_Item] = []
            try:
                batch = await self._gather()
                await self._answer(batch)
            except Exception:  # a bug here must not stop the worker: every later request would hang
                log.exception("batch worker error")
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(RuntimeError("the batch worker failed"))

    async def _answer(self, batch: list[_Item]) -> None:
        """Run `batch` and settle its futures; on an error, run each prompt alone to find whose it is."""
        batch = [item for item in batch if not item.future.done()]
        if not batch:
            return
        try:
            outputs = await asyncio.to_thread(self.generate, [item.prompt for item in batch], batch[0].params)
            if len(outputs) != len(batch):
                raise RuntimeError(f"generate returned {len(outputs)} outputs for {len(batch)} prompts")
        except Exception as err:
            if len(batch) > 1:
                log.warning("a batch of %d failed (%s: %s); running its prompts one by one", len(batch),
                            type(err).__name__, err)
                for item in batch:
                    await self._answer([item])
            elif not batch[0].future.done():
                batch[0].future.set_exception(err)
            return
        for item, output in zip(batch, outputs):
            if not item.future.done():
                item.future.set_result(output)
