"""From exchanges to a vocabulary, an IDF vector, a sparse design matrix and targets."""

from __future__ import annotations

import math
from collections import Counter
from typing import Sequence

import numpy as np
from scipy import sparse

from mood_tagger.model.classifier import idf_row
from mood_tagger.training.targets import (  # noqa: F401
    celebrate_soft_targets, celebrate_targets, corpus_hash, emotion_targets)


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
        indices.extend(ids.tolist())
        data.extend(idf_row(idf, ids).tolist())
        indptr.append(len(indices))
    return sparse.csr_matrix((np.array(data, dtype=np.float32), np.array(indices, dtype=np.int64),
                              np.array(indptr, dtype=np.int64)),
                             shape=(len(feature_sets), len(idf)))
