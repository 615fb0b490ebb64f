"""Server-sent events for `stream: true` (chat completions and /v1/translate).

Chat streams tokens in OpenAI's chunk format: a first chunk with the role, one chunk per
piece of text (`delta.content`), a last chunk with `finish_reason`, then `data: [DONE]`.
The request is a batch of one through the batcher (its key equals no other): the model
still runs one batch at a time, so a stream never competes with a batch for the weights
or the cores, is counted in the queue gauge and the batch metrics, and the streamer sees
one row (transformers streams batch size 1 only). The cost: a stream holds the model for
its length, so batched requests wait behind it as behind any batch.

Translation streams sentences: sentences are queued as usual (they batch with other
requests' sentences), and each one is sent as soon as its batch finishes, as
`{"object": "translation.sentence", "text", "sentence", "sentences", "translation",
"lead", "trail"}` (lead + translation + trail, in sentence order, rebuild the text); the
last event is the whole response (`"object": "translation"`), equal to the non-streaming one.

Either stream ends early with `data: {"error": {"message", "type", "code"}}`, the error
shape of every status, on a timeout (the server's, counted from the request's start) or a
generation error; `lingualift_stream_errors_total` counts them by route and code. A client
that leaves stops its generation at the next token (the stream's cancel event).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from starlette.responses import StreamingResponse

from lingualift.inference.generate import GenerationParams

log = logging.getLogger("lingualift.serve")
HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}  # no proxy may hold the events back


@dataclass(eq=False)  # equal to no other key: always a batch of one
class StreamJob:
    params: GenerationParams
    on_text: Callable[[str], None]
    cancel: threading.Event = field(default_factory=threading.Event)


def sse(data) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {text}\n\n".encode("utf-8", "backslashreplace")


def error_event(status: int, message: str, kind: str) -> bytes:
    return sse({"error": {"message": message, "type": kind, "code": status}})


def response(events: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(events, media_type="text/event-stream", headers=HEADERS)


class Streams:
    """The two event generators, sharing the batcher, the timeout and the error counter."""

    def __init__(self, batcher, timeout: float, count_error: Callable[[str, int], None]):
        self.batcher, self.timeout, self.count_error = batcher, timeout, count_error

    def _fail(self, route: str, err: BaseException | None) -> bytes:
        if err is None:
            self.count_error(route, 504)
            return error_event(504, f"request took longer than the server's timeout of {self.timeout:g} s", "timeout")
        log.error("generation failed in a stream", exc_info=err)
        self.count_error(route, 500)
        return error_event(500, f"generation failed ({type(err).__name__}); the server log has the details",
                           "server_error")

    async def chat(self, prompt: str, params: GenerationParams, model: str, start: float,
                   finish: Callable[[str], str]) -> AsyncIterator[bytes]:
        """Chunks of one chat completion; `finish(output)` is its finish_reason."""
        loop, pieces = asyncio.get_running_loop(), asyncio.Queue()
        job = StreamJob(params, lambda piece: loop.call_soon_threadsafe(pieces.put_nowait, piece))
        [future] = self.batcher.enqueue([prompt], job)
        head = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion.chunk", "created": int(time.time()),
                "model": model}

        def chunk(delta: dict, reason: str | None = None) -> bytes:
            return sse({**head, "choices": [{"index": 0, "delta": delta, "finish_reason": reason}]})

        getter = None
        try:
            yield chunk({"role": "assistant", "content": ""})
            while True:
                getter = getter or asyncio.ensure_future(pieces.get())
                left = self.timeout - (time.perf_counter() - start)
                done, _ = await asyncio.wait({getter, future}, timeout=max(0.0, left),
                                             return_when=asyncio.FIRST_COMPLETED)
                if getter in done:  # text first: pieces queued before the output was set
                    yield chunk({"content": getter.result()})
                    getter = None
                elif future in done:
                    if future.exception() is not None:
                        yield self._fail("/v1/chat/completions", future.exception())
                        return
                    yield chunk({}, finish(future.result()))
                    yield sse("[DONE]")
                    return
                else:
                    yield self._fail("/v1/chat/completions", None)
                    return
        finally:  # finished, failed, timed out or the client left: stop the model and drop the queue entry
            job.cancel.set()
            future.cancel()
            if getter is not None:
                getter.cancel()

    async def translate(self, futures: list[asyncio.Future], places: list[tuple[int, int]], pieces: list,
                        start: float, finish: Callable[[dict], dict]) -> AsyncIterator[bytes]:
        """One event per sentence as its batch finishes, then `finish(results)` (the whole
        response; results maps (text, sentence) to (translation, how it was chosen))."""
        pending = dict(zip(futures, places))
        results: dict[tuple[int, int], tuple[str, str]] = {}
        try:
            while pending:
                left = self.timeout - (time.perf_counter() - start)
                done, _ = await asyncio.wait(list(pending), timeout=max(0.0, left),
                                             return_when=asyncio.FIRST_COMPLETED)
                if not done:
                    yield self._fail("/v1/translate", None)
                    return
                for future in sorted(done, key=lambda f: pending[f]):
                    text, sentence = pending.pop(future)
                    if future.exception() is not None:
                        yield self._fail("/v1/translate", future.exception())
                        return
                    results[text, sentence] = future.result()
                    piece = pieces[text][sentence]
                    yield sse({"object": "translation.sentence", "text": text, "sentence": sentence,
                               "sentences": len(pieces[text]), "translation": results[text, sentence][0].strip(),
                               "lead": piece.lead, "trail": piece.trail})
            yield sse({"object": "translation", **finish(results)})
        finally:
            for future in pending:
                future.cancel()
