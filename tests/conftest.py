"""Shared fixtures: a tiny labelled corpus and a model really trained on it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import settings

from mood_tagger.data.jsonl import load_exchanges
from mood_tagger.training import TrainConfig, train_model

# every property test draws the same examples on every run: a red CI is reproducible
settings.register_profile("deterministic", derandomize=True, print_blob=True)
settings.load_profile("deterministic")

TINY_ROWS = [
    # correct answers confirmed → yes
    ("Con voi ăn cỏ ạ", "Đúng rồi, con giỏi lắm! Voi ăn cỏ và lá cây.", "proud", "yes"),
    ("2 cộng 3 bằng 5", "Chính xác! Tiếp câu sau nhé.", "thats_right", "yes"),
    ("Thủ đô là Hà Nội", "Đúng rồi! Con giỏi quá, Hà Nội là thủ đô.", "proud", "yes"),
    ("dog", "Correct! Dog is con chó.", "thats_right", "yes"),
    ("Mặt trời mọc ở hướng đông", "Chính xác, con thông minh lắm!", "proud", "yes"),
    ("cat", "That's right, well done!", "proud", "yes"),
    # hard negatives and others → no
    ("Tớ thích màu xanh", "Màu xanh đẹp thật! Tớ cũng thích.", "happy", "no"),
    ("2 cộng 2 bằng 5", "Chưa đúng rồi, thử lại nhé!", "encouraging", "no"),
    ("Con bị ngã đau chân", "Ôi, con có đau lắm không? Cẩn thận nhé!", "worry", "no"),
    ("Con mèo nhà con bị lạc", "Thương con quá, tớ buồn khi nghe vậy.", "sad", "no"),
    ("I like pink", "Pink is lovely! I like it too.", "happy", "no"),
    ("3 cộng 4 bằng 8", "Gần đúng rồi, con thử đếm lại xem!", "encouraging", "no"),
    ("Con vẽ con mèo nè", "Giỏi quá, bức tranh đẹp ghê! Tớ thích.", "happy", "no"),
    ("I fell off my bike", "Oh no, are you hurt? Be careful!", "worry", "no"),
]


def make_rows(rows=TINY_ROWS, prefix="t"):
    return [{"id": f"{prefix}-{i}", "lang": "en" if p[:1].isascii() and "Đ" not in p else "vi",
             "user_last_message": u, "pika_response": p, "emotion_name": e,
             "emotion_ok": [e], "celebrate": c} for i, (u, p, e, c) in enumerate(rows)]


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("data") / "tiny.jsonl", make_rows())


TINY_CONFIG = TrainConfig(hidden=0, epochs=60, lr=0.05, min_count=1, dropout=0.0,
                          calibration_fraction=0.15)


@pytest.fixture(scope="session")
def tiny_model(tiny_corpus, tmp_path_factory):
    model = train_model(load_exchanges([tiny_corpus]), TINY_CONFIG, name="tiny", progress=False)
    model.save(tmp_path_factory.mktemp("models") / "tiny")
    return model


@pytest.fixture(scope="session")
def tiny_model_path(tiny_model, tmp_path_factory) -> Path:
    return tiny_model.save(tmp_path_factory.mktemp("saved") / "tiny")


@pytest.fixture(scope="module")
def fake():
    """A real HTTP upstream that behaves like vLLM (tests/fake_vllm.py), one per test module."""
    from tests.fake_vllm import FakeVLLM

    server = FakeVLLM().start()
    yield server
    server.stop()


from tests.encoder_fixtures import tiny_encoder  # noqa: E402,F401  (session fixture)
