"""features.py, part by part: the order of every n-gram kind, the edges of the character
n-grams, the sentence and length buckets, the history roles and the config round trip."""

from __future__ import annotations

import json
from dataclasses import replace

from mood_tagger.data.schema import Exchange, Turn
from mood_tagger.features import FeatureConfig, extract

CFG = FeatureConfig()


def prefixed(feats: set[str], prefix: str) -> set[str]:
    return {f[len(prefix):] for f in feats if f.startswith(prefix)}


def longest(grams: set[str]) -> int:
    return max(len(g.split(" ")) for g in grams)


def test_config_round_trips_through_json_with_a_tuple_of_char_orders():
    cfg = replace(CFG, child_char_ngrams=(2, 5), max_history_turns=2)
    back = FeatureConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert back == cfg and back.child_char_ngrams == (2, 5)
    assert FeatureConfig.from_dict({"pika_word_ngrams": 1}) == replace(CFG, pika_word_ngrams=1)


def test_character_ngrams_reach_both_padded_ends():
    chars = prefixed(extract(Exchange("con voi", "ừ"), CFG), "#")
    padded = " con voi "
    expected = {padded[i:i + n] for n in (3, 4) for i in range(len(padded) - n + 1)}
    assert chars == expected and {"oi ", "voi ", " co", " con"} <= chars


def test_character_ngram_orders_are_inclusive():
    one = prefixed(extract(Exchange("abc", "x"), replace(CFG, child_char_ngrams=(1, 1))), "#")
    assert one == {" ", "a", "b", "c"}
    three = prefixed(extract(Exchange("abcd", "x"), replace(CFG, child_char_ngrams=(3, 3))), "#")
    assert three == {" ab", "abc", "bcd", "cd "}


def test_stripped_reply_sentence_and_question_parts_keep_their_own_orders():
    ex = Exchange("con voi ăn cỏ", "Một hai ba bốn. Năm sáu bảy tám. Chín mười một hai",
                  (Turn("pika", "voi ăn gì vậy?"),))
    feats = extract(ex, replace(CFG, pika_word_ngrams=3, history_word_ngrams=3))
    assert longest(prefixed(feats, "p:")) == 3
    assert longest(prefixed(feats, "p~")) == 2                     # stripped reply: bigrams
    assert longest(prefixed(feats, "p0:")) == 2 and "một hai" in prefixed(feats, "p0:")
    assert longest(prefixed(feats, "pl:")) == 2 and "một hai" in prefixed(feats, "pl:")
    assert "chín mười" in prefixed(feats, "pl:") and "năm" not in prefixed(feats, "pl:")
    assert longest(prefixed(feats, "q:")) == 3
    assert longest(prefixed(feats, "q~")) == 1 and "an" in prefixed(feats, "q~")


def test_two_sentences_give_a_last_sentence_and_the_count_stops_at_five():
    two = extract(Exchange("a", "Đúng rồi. Giỏi quá"), CFG)
    assert prefixed(two, "pl:") == {"giỏi", "quá", "giỏi quá"} and "n_sent=2" in two
    many = extract(Exchange("a", " ".join(["Câu."] * 7)), CFG)
    assert "n_sent=5" in many and not any(f.startswith("n_sent=") and f != "n_sent=5" for f in many)


def test_child_length_is_bucketed_by_three_tokens_up_to_six():
    def bucket(n_tokens: int) -> set[str]:
        feats = extract(Exchange(" ".join(["a"] * n_tokens), "x"), CFG)
        return {f for f in feats if f.startswith("c_len=")}
    assert bucket(2) == {"c_len=0"} and bucket(3) == {"c_len=1"} and bucket(8) == {"c_len=2"}
    assert bucket(9) == {"c_len=3"} and bucket(20) == {"c_len=6"} and bucket(40) == {"c_len=6"}


def test_one_history_turn_is_enough_to_see_the_question():
    ex = Exchange("cỏ", "Đúng rồi", (Turn("child", "chào"), Turn("pika", "Voi ăn gì?")))
    feats = extract(ex, replace(CFG, max_history_turns=1))
    assert "gì" in prefixed(feats, "q:") and "no_question" not in feats
    assert not prefixed(feats, "hc:")                               # cut to the last turn


def test_earlier_pika_turns_are_history_under_their_role():
    ex = Exchange("cỏ", "Đúng rồi", (Turn("pika", "Chào con"), Turn("child", "dạ"),
                                     Turn("pika", "Voi ăn gì?")))
    feats = extract(ex, CFG)
    assert prefixed(feats, "hp:") == {"chào", "con"} and prefixed(feats, "hc:") == {"dạ"}
    assert "gì" in prefixed(feats, "q:") and "chào" not in prefixed(feats, "q:")
