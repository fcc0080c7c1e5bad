"""Choosing the pieces of a pruned vocabulary for Vietnamese and English children's chat.

Kept, in this order until the budget is met: the special pieces; every piece seen when
tokenising the training corpus; every single character and every piece written only
in the Vietnamese alphabet (with tones), digits, punctuation or emoji; then pure-ASCII
pieces by SentencePiece score (a proxy for frequency). Nothing is chosen from the
evaluation sets. Texts whose pieces were dropped still tokenise: Viterbi falls back to
shorter kept pieces, and to <unk> only for characters outside these scripts.
"""

from __future__ import annotations

import unicodedata
from typing import Iterable

from mood_tagger.encoder.tokenizer import META, UnigramTokenizer


def _vietnamese_letters() -> set[str]:
    letters = set("abcdefghijklmnopqrstuvwxyzđ")
    tones = ["", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323"]
    for base in "aăâeêioôơuưy":
        for tone in tones:
            letters.add(unicodedata.normalize("NFC", base + tone))
    return letters | {ch.upper() for ch in letters}


VIETNAMESE = _vietnamese_letters()


def _is_symbol(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat[0] in "PSNZ" or ch in "\u200d\ufe0f"


def is_local_script(piece: str) -> bool:
    """Only Vietnamese-alphabet letters, ASCII, digits, punctuation, symbols and emoji."""
    body = piece.replace(META, "")
    return all(ch in VIETNAMESE or ord(ch) < 0x80 or _is_symbol(ch) for ch in body)


def choose_pieces(tok: UnigramTokenizer, corpus: Iterable[str], budget: int) -> list[int]:
    keep: dict[int, None] = dict.fromkeys([tok.bos, tok.pad, tok.eos, tok.unk])
    for text in corpus:
        keep.update(dict.fromkeys(tok.encode(text)))
    for i, p in enumerate(tok.pieces):
        body = p.replace(META, "")
        if len(body) <= 1 and is_local_script(p):
            keep[i] = None
        elif is_local_script(p) and any(ord(ch) >= 0x80 for ch in body):
            keep[i] = None                      # Vietnamese words, emoji, typographic marks
    ascii_by_score = sorted((i for i, p in enumerate(tok.pieces)
                             if i not in keep and all(ord(ch) < 0x80 for ch in p.replace(META, ""))),
                            key=lambda i: (-tok.scores[i], i))
    room = max(0, budget - len(keep))
    keep.update(dict.fromkeys(ascii_by_score[:room]))
    return sorted(keep)
