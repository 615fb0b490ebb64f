"""Where a generated answer ends: the stop rule every engine applies (hf, ct2, vllm, streaming).

A row ends at the first stop string after its answer's first non-blank character, so the
newline an Alpaca model writes right after "### Response:" does not end an empty answer.
"""

from __future__ import annotations


def cut_at_stop(text: str, stop: tuple[str, ...]) -> str:
    """Text up to the first stop string that follows its first non-blank character."""
    begin = len(text) - len(text.lstrip())
    cuts = [i for i in (text.find(s, begin + 1) for s in stop) if i >= 0]
    return text[:min(cuts)] if cuts else text


class StopCheck:
    """Whether a row's new tokens hold a stop string after their first non-blank character.

    A stop string is complete only once the token holding its last character is generated, so
    a row's text is decoded only when its newest token could end one (it holds a stop's last
    character, or is part of a multi-byte character): decoding every row in full at every step
    costs time quadratic in the answer's length. Shared by the hf and ct2 engines."""

    def __init__(self, tokenizer, stop: tuple[str, ...]):
        self.tokenizer, self.stop = tokenizer, stop
        self.last_chars = {s[-1] for s in stop if s}
        self.pieces: dict[int, bool] = {}  # token id -> may end a stop string

    def _may_end(self, token_id: int) -> bool:
        if token_id not in self.pieces:
            piece = self.tokenizer.decode([token_id], skip_special_tokens=True)
            self.pieces[token_id] = "\ufffd" in piece or any(c in piece for c in self.last_chars)
        return self.pieces[token_id]

    def ends(self, new: list[int]) -> bool:
        if not new or not self._may_end(int(new[-1])):
            return False
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        return cut_at_stop(text, self.stop) != text
