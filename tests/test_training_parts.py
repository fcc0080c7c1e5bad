"""The trainer's parts: vocabulary and IDF, the design matrix, the targets, the corpus hash,
the first Adam step and its epsilon, and train_epoch's batching, loss and dropout."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pytest
from scipy import sparse

from mood_tagger.data.jsonl import load_exchanges
from mood_tagger.data.schema import Exchange
from mood_tagger.features import FeatureConfig, extract
from mood_tagger.labels import EMOTION_TAGS
from mood_tagger.training import matrix
from mood_tagger.training.optimiser import (Adam, dropout_mask, init_weights, loss_and_grads,
                                            train_epoch)

TAG = EMOTION_TAGS.index


def test_vocab_is_most_frequent_first_then_alphabetical_with_min_count_inclusive():
    sets = [{"z", "y"}, {"z", "a"}, {"z", "b", "a"}, {"q"}]
    vocab, idf = matrix.build_vocab(sets, min_count=1, max_features=100)
    assert vocab == ["z", "a", "b", "q", "y"]
    assert matrix.build_vocab(sets, min_count=2, max_features=100)[0] == ["z", "a"]
    assert matrix.build_vocab(sets, min_count=1, max_features=2)[0] == ["z", "a"]
    assert idf.dtype == np.float32


def test_idf_is_one_for_a_feature_everywhere_and_grows_as_it_gets_rarer():
    sets = [{"all", "half"}, {"all", "half"}, {"all", "once"}]
    vocab, idf = matrix.build_vocab(sets, min_count=1, max_features=100)
    weight = dict(zip(vocab, idf.tolist()))
    assert weight["all"] == pytest.approx(1.0)                      # smoothed: ln(4/4) + 1
    assert weight["half"] == pytest.approx(1.0 + math.log(4 / 3))
    assert weight["once"] == pytest.approx(1.0 + math.log(4 / 2))


def test_design_matrix_rows_are_normalised_idf_over_the_whole_vocab():
    vocab = {"a": 0, "b": 1, "c": 2, "unused": 3}
    idf = np.array([1.0, 2.0, 3.0, 4.0], dtype=np.float32)
    X = matrix.design_matrix([{"b", "a", "new"}, set(), {"c"}], vocab, idf)
    assert X.shape == (3, 4) and X.dtype == np.float32
    dense = X.toarray()
    np.testing.assert_allclose(dense[0], np.array([1.0, 2.0, 0, 0]) / math.sqrt(5), rtol=1e-6)
    assert not dense[1].any() and dense[2].tolist() == [0, 0, 1.0, 0]


def test_emotion_targets_are_distributions():
    one = Exchange("a", "b", emotion_name="happy", emotion_ok=("happy",), celebrate="no")
    y = matrix.emotion_targets([one], ok_mass=0.2)
    assert y.dtype == np.float32 and y[0, TAG("happy")] == 1.0 and y.sum() == pytest.approx(1.0)
    doubled = Exchange("a", "b", emotion_name="proud", emotion_ok=("proud", "happy", "happy"), celebrate="no")
    row = matrix.emotion_targets([doubled], ok_mass=0.2)[0]
    assert row.sum() == pytest.approx(1.0) and row[TAG("happy")] == pytest.approx(0.2)
    teacher = Exchange("a", "b", emotion_name="proud", emotion_ok=("proud", "happy"), celebrate="yes",
                       extra={"teacher_emotion_p": {"sad": 3, "worry": 1}, "teacher_celebrate_p": 0.3})
    rows = matrix.emotion_targets([teacher, one], ok_mass=0.2)
    row = rows[0]
    assert rows[1].tolist() == y[0].tolist()                       # lines after a teacher line too
    assert row[TAG("sad")] == pytest.approx(0.75) and row[TAG("worry")] == pytest.approx(0.25)
    assert row[TAG("proud")] == 0.0
    soft = matrix.celebrate_soft_targets([teacher, one])
    assert soft.tolist() == [pytest.approx(0.3), 0.0] and matrix.celebrate_targets([teacher, one]).tolist() == [1, 0]


def test_corpus_hash_is_sha256_of_canonical_json_lines_in_order():
    a = Exchange("Con voi ăn cỏ", "Đúng rồi!", id="1", emotion_name="proud", celebrate="yes",
                 extra={"source": "hand", "batch": 2})
    b = Exchange("dog", "Correct!", id="2", emotion_name="thats_right", celebrate="yes")
    lines = "".join(json.dumps(ex.to_json(), ensure_ascii=False, sort_keys=True) + "\n" for ex in (a, b))
    assert matrix.corpus_hash([a, b]) == "sha256:" + hashlib.sha256(lines.encode("utf-8")).hexdigest()
    assert matrix.corpus_hash([b, a]) != matrix.corpus_hash([a, b])
    reordered = Exchange(a.user_last_message, a.pika_response, id="1", emotion_name="proud",
                         celebrate="yes", extra={"batch": 2, "source": "hand"})
    assert matrix.corpus_hash([reordered, b]) == matrix.corpus_hash([a, b])


def test_init_weights_are_float32():
    rng = np.random.default_rng(0)
    for hidden in (0, 4):
        w = init_weights(7, hidden, rng)
        assert {v.dtype for v in w.values()} == {np.dtype(np.float32)}
        assert w["W1"].shape == (7, hidden or len(EMOTION_TAGS) + 2)


@pytest.fixture(scope="module")
def problem(tiny_corpus):
    golds = load_exchanges([tiny_corpus])
    feats = [extract(ex, FeatureConfig()) for ex in golds]
    vocab_list, idf = matrix.build_vocab(feats, 1, 10_000)
    X = matrix.design_matrix(feats, {f: i for i, f in enumerate(vocab_list)}, idf)
    return X, matrix.emotion_targets(golds, 0.2), matrix.celebrate_soft_targets(golds)


def fresh(problem, hidden: int) -> dict[str, np.ndarray]:
    return init_weights(problem[0].shape[1], hidden, np.random.default_rng(1))


def test_the_first_adam_step_moves_every_touched_weight_by_the_learning_rate(problem):
    X, y_emo, y_cel = problem
    w = fresh(problem, 0)
    _, grads, rows = loss_and_grads(X, y_emo, y_cel, w, l2=0.0, celebrate_weight=1.5, activation="relu")
    opt = Adam(lr=0.01)
    train_epoch(X, y_emo, y_cel, w, opt, batch_size=len(y_cel), l2=0.0, celebrate_weight=1.5,
                activation="relu", dropout=0.0, rng=np.random.default_rng(0))
    g = grads["W1"]
    np.testing.assert_allclose(w["W1"][rows], -0.01 * g / (np.abs(g) + 1e-8), rtol=1e-4, atol=1e-7)
    assert opt.t == 1


def test_adam_epsilon_is_added_to_the_root():
    p = np.array([0.0])
    opt = Adam(lr=1.0)
    opt.t = 1
    opt.step("p", p, np.array([1e-8]))
    assert p[0] == pytest.approx(-0.5)


def test_train_epoch_counts_steps_and_returns_the_mean_loss_over_all_rows(problem):
    X, y_emo, y_cel = problem
    for hidden in (0, 6):
        w = fresh(problem, hidden)
        before = {k: v.copy() for k, v in w.items()}
        full, _, _ = loss_and_grads(X, y_emo, y_cel, w, l2=0.0, celebrate_weight=1.5, activation="relu")
        opt = Adam(lr=0.0)                                          # weights stay put
        mean = train_epoch(X, y_emo, y_cel, w, opt, batch_size=4, l2=0.0, celebrate_weight=1.5,
                           activation="relu", dropout=0.0, rng=np.random.default_rng(0))
        assert mean == pytest.approx(full / X.shape[0], rel=1e-5)
        assert opt.t == math.ceil(X.shape[0] / 4)
        assert all(np.array_equal(before[k], w[k]) for k in w)


def test_train_epoch_applies_the_dropout_mask_it_draws(problem):
    X, y_emo, y_cel = problem
    n, w = X.shape[0], fresh(problem, 6)
    rng = np.random.default_rng(5)
    order = rng.permutation(n)
    mask = dropout_mask(rng, (n, 6), 0.5)
    expected, _, _ = loss_and_grads(X[order], y_emo[order], y_cel[order], w, l2=0.0, celebrate_weight=1.5,
                                    activation="relu", mask=mask)
    plain, _, _ = loss_and_grads(X, y_emo, y_cel, w, l2=0.0, celebrate_weight=1.5, activation="relu")
    got = train_epoch(X, y_emo, y_cel, w, Adam(lr=0.0), batch_size=n, l2=0.0, celebrate_weight=1.5,
                      activation="relu", dropout=0.5, rng=np.random.default_rng(5))
    assert got == pytest.approx(expected / n, rel=1e-5) and got != pytest.approx(plain / n, rel=1e-3)


def test_gradients_of_a_batch_without_known_features(problem):
    X, y_emo, y_cel = problem
    empty = sparse.csr_matrix((2, X.shape[1]), dtype=np.float32)
    w = fresh(problem, 0)
    loss, grads, rows = loss_and_grads(empty, y_emo[:2], y_cel[:2], w, l2=0.0, celebrate_weight=1.5,
                                       activation="relu")
    assert rows.size == 0 and grads["W1"].shape == (0, w["W1"].shape[1]) and np.isfinite(loss)
    _, grads, _ = loss_and_grads(X, y_emo, y_cel, w, l2=0.0, celebrate_weight=1.5, activation="relu")
    assert grads["W1"].dtype == w["W1"].dtype
