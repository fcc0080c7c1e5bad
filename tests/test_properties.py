"""Property tests: any text gives valid tags or a clear InputError, never a crash."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st

from mood_tagger.data.inputs import make_exchange
from mood_tagger.errors import InputError
from mood_tagger.labels import CELEBRATE_VALUES, EMOTION_TAGS

texts = st.text(max_size=300)
turns = st.lists(st.fixed_dictionaries({"role": st.sampled_from(["pika", "child"]),
                                        "text": texts}), max_size=5)
RELAXED = settings(max_examples=150, deadline=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture])


@RELAXED
@given(user=texts, pika=texts, history=st.one_of(st.none(), turns))
def test_any_unicode_gives_valid_tags_or_input_error(tiny_model, user, pika, history):
    try:
        ex = make_exchange(user, pika, history)
    except InputError as exc:
        assert "must not be empty" in str(exc)
        assert not user.strip() or not pika.strip()
        return
    p = tiny_model.predict_one(ex)
    assert p.emotion_name in EMOTION_TAGS
    assert p.celebrate in CELEBRATE_VALUES
    assert 0.0 <= p.celebrate_p <= 1.0


@RELAXED
@given(st.integers(min_value=4001, max_value=20000))
def test_over_long_text_is_a_clear_error(tiny_model, n):
    try:
        make_exchange("x" * n, "ok")
    except InputError as exc:
        assert "limit is 4000" in str(exc) and "user_last_message" in str(exc)
    else:
        raise AssertionError("an over-long message must be refused")


def test_long_but_allowed_text_and_odd_characters(tiny_model):
    weird = "\u0000\ud7ff\U0001f600 \u202e đ Đ " * 200
    p = tiny_model.predict_one(make_exchange(weird[:3999], "Đúng rồi! 🎉" * 300))
    assert p.emotion_name in EMOTION_TAGS


@RELAXED
@given(value=st.one_of(st.integers(), st.none(), st.lists(st.text()), st.dictionaries(st.text(), st.text())))
def test_wrong_types_are_input_errors(value):
    try:
        make_exchange(value, "ok")
    except InputError as exc:
        assert "user_last_message: expected a string" in str(exc)
    else:
        raise AssertionError("a non-string message must be refused")
