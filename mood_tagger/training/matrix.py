"""From exchanges to a vocabulary, an IDF vector, a sparse design matrix and targets."""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from typing import Sequence

import numpy as np
from scipy import sparse

from mood_tagger.data.schema import Exchange
from mood_tagger.labels import EMOTION_TAGS


def build_vocab(feature_sets: Sequence[set[str]], min_count: int, max_features: int
                ) -> tuple[list[str], np.ndarray]:
    """Features seen in at least `min_count` exchanges (most frequent first) and their IDF."""
    df = Counter(f for feats in feature_sets for f in feats)
    kept = sorted((f for f, c in df.items() if c >= min_count), key=lambda f: (-df[f], f))
    kept = kept[:max_features]
    n = len(feature_sets)
    idf = np.array([math.log((1 + n) / (1 + df[f])) + 1.0 for f in kept], dtype=np.float32)
    return kept, idf


def design_matrix(feature_sets: Sequence[set[str]], vocab: dict[str, int], idf: np.ndarray
                  ) -> sparse.csr_matrix:
    """Rows are L2-normalised IDF weights of the features present: the same as inference."""
    indptr, indices, data = [0], [], []
    for feats in feature_sets:
        ids = np.array(sorted(vocab[f] for f in feats if f in vocab), dtype=np.int64)
        w = idf[ids]
        norm = float(np.sqrt(w @ w)) if ids.size else 1.0
        indices.extend(ids.tolist())
        data.extend((w / norm).tolist())
        indptr.append(len(indices))
    return sparse.csr_matrix((np.array(data, dtype=np.float32), np.array(indices, dtype=np.int64),
                              np.array(indptr, dtype=np.int64)),
                             shape=(len(feature_sets), len(idf)))


def emotion_targets(exchanges: Sequence[Exchange], ok_mass: float) -> np.ndarray:
    """Soft targets: 1 - ok_mass on emotion_name, ok_mass spread over the other emotion_ok tags."""
    y = np.zeros((len(exchanges), len(EMOTION_TAGS)), dtype=np.float32)
    for row, ex in enumerate(exchanges):
        others = [t for t in ex.emotion_ok if t != ex.emotion_name]
        main = EMOTION_TAGS.index(ex.emotion_name)
        if others and ok_mass > 0:
            y[row, main] = 1.0 - ok_mass
            for t in others:
                y[row, EMOTION_TAGS.index(t)] += ok_mass / len(others)
        else:
            y[row, main] = 1.0
    return y


def celebrate_targets(exchanges: Sequence[Exchange]) -> np.ndarray:
    return np.array([ex.celebrate == "yes" for ex in exchanges], dtype=np.int64)


def corpus_hash(exchanges: Sequence[Exchange]) -> str:
    """sha256 of the canonical JSON of every exchange, in order."""
    h = hashlib.sha256()
    for ex in exchanges:
        h.update(json.dumps(ex.to_json(), ensure_ascii=False, sort_keys=True).encode("utf-8"))
        h.update(b"\n")
    return "sha256:" + h.hexdigest()
