"""Augmentation keeps labels and meaning; the overlap check finds exact and near copies."""

from __future__ import annotations

import random

from mood_tagger.cli import main
from mood_tagger.data.augment import augment, augment_one
from mood_tagger.data.jsonl import load_exchanges
from mood_tagger.data.overlap import find_overlaps
from tests.conftest import make_rows, write_jsonl


def test_augmentation_changes_surface_only(tiny_corpus):
    source = load_exchanges([tiny_corpus])
    generated = augment(source, seed=1)
    assert generated, "augmentation produced nothing"
    by_id = {ex.id: ex for ex in source}
    for ex in generated:
        original = by_id[ex.extra["augmented_from"]]
        assert (ex.emotion_name, ex.celebrate, ex.history) == (original.emotion_name,
                                                              original.celebrate, original.history)
        assert ex.extra["source"].startswith("augment:")
        assert (ex.user_last_message, ex.pika_response) != (original.user_last_message,
                                                             original.pika_response)
    assert augment(source, seed=1) == generated  # reproducible


def test_name_swap_in_pika_reply(tmp_path):
    row = make_rows()[0] | {"pika_response": "Đúng rồi Bin ơi, giỏi lắm!"}
    (ex,) = load_exchanges([write_jsonl(tmp_path / "n.jsonl", [row])])
    out = augment_one(ex, random.Random(3))
    assert "Bin" not in out.pika_response and out.extra["source"].endswith("name")


def test_overlap_finds_exact_and_near_copies(tmp_path, capsys):
    rows = make_rows()
    corpus = write_jsonl(tmp_path / "corpus.jsonl", rows)
    probe_rows = [rows[0] | {"id": "p-exact", "user_last_message": rows[0]["user_last_message"].upper()},
                  rows[1] | {"id": "p-near", "pika_response": rows[1]["pika_response"] + " Hihi."},
                  {"id": "p-new", "user_last_message": "Hôm nay trời mưa to quá",
                   "pika_response": "Mưa to thì mình ở trong nhà đọc truyện nhé."}]
    probes = write_jsonl(tmp_path / "probes.jsonl", probe_rows)
    matches = find_overlaps(load_exchanges([corpus]), load_exchanges([probes], require_labels=False))
    assert {m.probe_id: m.corpus_id for m in matches} == {"p-exact": "t-0", "p-near": "t-1"}
    assert main(["overlap", str(corpus), "--against", str(probes)]) == 1
    assert "1 exact, 1 near" in capsys.readouterr().out
    assert main(["overlap", str(corpus), "--against", str(probes), "--remove"]) == 0
    assert [ex.id for ex in load_exchanges([corpus])][:2] == ["t-2", "t-3"]
