"""features.py: every part of an exchange is visible under its own prefix."""

from __future__ import annotations

from dataclasses import replace

from mood_tagger.data.schema import Exchange, Turn
from mood_tagger.features import FeatureConfig, extract, normalise, strip_diacritics, tokens

CFG = FeatureConfig()
EX = Exchange("Con VOI ăn cỏ", "Đúng rồi! Voi ăn cỏ. Con giỏi quá",
              (Turn("child", "chơi đố vui"), Turn("pika", "Voi ăn gì?"), Turn("child", "ừm")))


def prefixed(feats: set[str], prefix: str) -> set[str]:
    return {f[len(prefix):] for f in feats if f.startswith(prefix)}


def test_diacritics_are_stripped_and_text_normalised():
    assert strip_diacritics("Đúng rồi, cậu giỏi quá! ẵ Ữ") == "Dung roi, cau gioi qua! a U"
    assert normalise("Cafe\u0301 ĐÚNG") == "café đúng"                   # NFC, lower case
    assert tokens("đúng rồi!!") == ["đúng", "rồi", "!", "!"]


def test_child_and_pika_word_ngrams_up_to_their_orders():
    feats = extract(EX, CFG)
    assert {"con", "con voi", "voi ăn"} <= prefixed(feats, "c:")
    assert "con voi ăn" not in prefixed(feats, "c:")                      # child: bigrams
    assert {"đúng", "đúng rồi", "đúng rồi !"} <= prefixed(feats, "p:")     # Pika: trigrams
    assert {"con voi", "an co"} <= prefixed(feats, "c~")
    assert {"dung roi"} <= prefixed(feats, "p~")


def test_first_and_last_sentences_and_their_count():
    feats = extract(EX, CFG)
    assert "đúng rồi" in prefixed(feats, "p0:") and "giỏi quá" in prefixed(feats, "pl:")
    assert "n_sent=3" in feats
    single = extract(replace(EX, pika_response="Đúng rồi"), CFG)
    assert not prefixed(single, "pl:") and "n_sent=1" in single


def test_character_ngrams_of_the_stripped_child_message():
    chars = prefixed(extract(EX, CFG), "#")
    assert {" co", "con ", "voi", " an ", "an c"} <= chars and all(3 <= len(c) <= 4 for c in chars)
    assert not prefixed(extract(EX, replace(CFG, child_char_ngrams=(0, 0))), "#")


def test_last_pika_turn_is_the_question_and_other_turns_keep_their_role():
    feats = extract(EX, CFG)
    assert {"voi", "ăn gì", "?"} <= prefixed(feats, "q:") and "an" in prefixed(feats, "q~")
    assert "q?" in feats and "no_question" not in feats
    assert prefixed(feats, "hc:") == {"chơi", "đố", "vui", "ừm"} and not prefixed(feats, "hp:")
    statement = extract(replace(EX, history=(Turn("pika", "Voi ăn cỏ."),)), CFG)
    assert "q." in statement
    assert "no_question" in extract(replace(EX, history=()), CFG)


def test_history_is_cut_to_the_most_recent_turns():
    old = (Turn("pika", "câu cũ lắm rồi?"),) + tuple(Turn("child", f"lượt{i}") for i in range(4))
    feats = extract(replace(EX, history=old), replace(CFG, max_history_turns=4))
    assert "no_question" in feats and "cũ" not in prefixed(feats, "q:")
    assert prefixed(feats, "hc:") == {f"lượt{i}" for i in range(4)}
    assert not prefixed(extract(EX, replace(CFG, max_history_turns=0)), "hc:")


def test_switches_remove_their_parts():
    bare = extract(EX, replace(CFG, stripped_parts=False, sentence_parts=False))
    for prefix in ("c~", "p~", "q~", "#", "p0:", "pl:", "n_sent="):
        assert not prefixed(bare, prefix), prefix
    assert "c_len=1" in bare                                   # 4 tokens // 3
