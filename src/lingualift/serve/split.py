"""Long texts become sentences for translation and are put back with their own whitespace.

A model trained on sentence pairs (FLORES, Tatoeba) translates one sentence well and a page
badly, so the server splits with sentencex (rule-based, ~300 languages), translates the
sentences as one batch, and re-joins them with the whitespace (spaces, newlines, paragraph
breaks) that followed each sentence in the input.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Piece:
    lead: str  # whitespace before the sentence (only the first piece of a text has any)
    text: str  # the sentence, stripped
    trail: str  # whitespace after it, up to the next sentence


def split(text: str, lang: str) -> list[Piece]:
    """Sentences of `text` in language `lang` (ISO 639-1/3 or FLORES code; sentencex falls
    back to its generic rules for languages it has none for). Empty text: no pieces."""
    from sentencex import segment

    # Sentences are located in the original text rather than taken with the whitespace
    # sentencex returns, which drops repeated newlines (paragraph breaks).
    bodies = [b for b in (chunk.strip() for chunk in segment(lang.split("_")[0], text)) if b]
    pieces: list[Piece] = []
    cursor = 0
    for body in bodies:
        start = text.find(body, cursor)
        if start < 0:  # never seen; keep the text whole rather than lose any of it
            return [whole(text)]
        if pieces:
            pieces[-1] = Piece(pieces[-1].lead, pieces[-1].text, text[cursor:start])
        pieces.append(Piece(text[cursor:start] if not pieces else "", body, ""))
        cursor = start + len(body)
    if pieces:
        pieces[-1] = Piece(pieces[-1].lead, pieces[-1].text, text[cursor:])
    return pieces


def whole(text: str) -> Piece:
    """The text as one piece (no splitting), its outer whitespace kept aside."""
    return Piece(text[:len(text) - len(text.lstrip())], text.strip(), text[len(text.rstrip()):])


def join(pieces: list[Piece], translations: list[str]) -> str:
    """The translated text: each sentence's translation with the original whitespace around it."""
    return "".join(p.lead + t.strip() + p.trail for p, t in zip(pieces, translations, strict=True))
