"""Text as it is generated, for streaming responses (`Generator.stream`).

transformers calls a streamer's `put` with the prompt, then with each new token, from the
thread that runs `generate`. `TextPieces` decodes the new tokens so far and hands on only
text that can no longer change, so the pieces join to exactly what the non-streaming path
returns (`cut_at_stop(decode(tokens)).strip()`):
- the last `len(longest stop) - 1` characters wait, as they may begin a stop string that
  the next token completes (the output is cut where it begins);
- trailing whitespace waits (the answer is stripped, and it may be the last thing);
- a trailing U+FFFD waits (half of a multi-byte character; the next token completes it).
transformers' TextIteratorStreamer waits for whole words but knows nothing of stop strings,
so it could send text the final answer does not hold.
"""

from __future__ import annotations

from collections.abc import Callable


class TextPieces:
    def __init__(self, tokenizer, stop: tuple[str, ...], on_text: Callable[[str], None],
                 cut: Callable[[str, tuple[str, ...]], str]):
        # `cut` is stopping.cut_at_stop, passed in by generate
        self.tokenizer, self.stop, self.on_text, self.cut = tokenizer, stop, on_text, cut
        self.hold = max((len(s) for s in stop), default=1) - 1
        self.ids: list[int] = []
        self.prompt_seen = False
        self.sent = ""

    def put(self, value) -> None:
        if not self.prompt_seen:  # the first call carries the prompt
            self.prompt_seen = True
            return
        self.ids.extend(int(t) for t in value.reshape(-1).tolist())
        self._flush()

    def end(self) -> None:
        """Nothing here: `Generator.stream` sends the rest from the final output."""

    def _flush(self) -> None:
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        cut = self.cut(text, self.stop)
        safe = cut if cut != text else text[:len(text) - self.hold] if self.hold else text
        safe = safe.rstrip().rstrip("\ufffd").rstrip().lstrip()
        if len(safe) > len(self.sent) and safe.startswith(self.sent):
            piece, self.sent = safe[len(self.sent):], safe
            self.on_text(piece)


class StopWhenSet:
    """A stopping criterion that ends every row once `event` is set (a stream given up: the
    client left, or the request outlived the timeout), so the model is free for others."""

    def __init__(self, event):
        self.event = event

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)
