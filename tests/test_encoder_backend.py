"""The encoder tier as a service: the micro-batcher, deadlines with the n-gram fallback,
the cascade with an encoder tier, and a real server on an ephemeral port."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest

from mood_tagger.backends.batcher import MicroBatcher
from mood_tagger.backends.classifier import ClassifierBackend
from mood_tagger.data import load_exchanges
from mood_tagger.data.schema import Exchange, Turn
from mood_tagger.labels import CELEBRATE_VALUES, EMOTION_TAGS


EX = Exchange("2 cộng 3 bằng 5", "Chính xác! Con giỏi lắm.", (Turn("pika", "2 cộng 3 bằng mấy?"),))


def run(coro):
    return asyncio.run(coro)


# --- MicroBatcher ---------------------------------------------------------------------------

def test_concurrent_requests_share_batches_and_get_their_own_answers():
    calls = []

    def double(xs):
        calls.append(list(xs))
        return [2 * x for x in xs]

    async def main():
        b = MicroBatcher(double, max_batch=8, max_wait_ms=20)
        out = await asyncio.gather(*(b.submit(i) for i in range(20)))
        await b.aclose()
        return out, b

    out, b = run(main())
    assert out == [2 * i for i in range(20)]
    assert b.items == 20 and b.batches == len(calls) < 20
    assert max(map(len, calls)) == 8 and sorted(x for c in calls for x in c) == list(range(20))


def test_a_failing_batch_reaches_every_waiter_and_the_batcher_keeps_serving():
    def fn(xs):
        if "bad" in xs:
            raise RuntimeError("model broke")
        return [x.upper() for x in xs]

    async def main():
        b = MicroBatcher(fn, max_batch=4, max_wait_ms=20)
        failed = await asyncio.gather(b.submit("bad"), b.submit("ok"), return_exceptions=True)
        later = await b.submit("fine")
        await b.aclose()
        return failed, later

    failed, later = run(main())
    assert all(isinstance(e, RuntimeError) for e in failed) and later == "FINE"


def test_expired_items_are_dropped_before_the_model_sees_them():
    seen = []
    gate = threading.Event()

    def fn(xs):
        seen.extend(xs)
        gate.wait(5)
        return list(xs)

    async def main():
        b = MicroBatcher(fn, max_batch=1, max_wait_ms=0)
        first = asyncio.ensure_future(b.submit("busy"))         # occupies the worker
        await asyncio.sleep(0.05)
        expired = asyncio.ensure_future(b.submit("late", deadline=time.perf_counter() + 0.01))
        await asyncio.sleep(0.1)                                  # its deadline passes in the queue
        gate.set()
        await first
        with pytest.raises(asyncio.CancelledError):
            await expired
        await b.aclose()
        return b

    b = run(main())
    assert seen == ["busy"] and b.dropped == 1


# --- EncoderBackend -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def encoder_model(tiny_encoder):
    from mood_tagger.model.encoder_model import EncoderModel
    return EncoderModel.load(tiny_encoder[3])


def make_backend(model, tiny_model_path, predict=None, emotion_weight=1.0):
    from mood_tagger.backends.encoder import EncoderBackend
    from mood_tagger.model import TaggerModel
    backend = EncoderBackend(model, ClassifierBackend(TaggerModel.load(tiny_model_path)),
                             emotion_weight=emotion_weight)
    if predict is not None:
        backend.batcher.fn = predict
    return backend


def test_encoder_answers_as_the_model_does(encoder_model, tiny_model_path):
    backend = make_backend(encoder_model, tiny_model_path)

    async def main():
        r = await backend.atag(EX, 5000)
        await backend.aclose()
        return r

    r = run(main())
    p = encoder_model.predict_one(EX)
    assert (r.backend, r.reason, r.model) == ("encoder", "encoder", encoder_model.name)
    assert (r.emotion_name, r.celebrate) == (p.emotion_name, p.celebrate)
    assert r.celebrate_p == pytest.approx(p.celebrate_p, abs=1e-5)
    assert backend.tag(EX).emotion_name == p.emotion_name


def test_emotion_blends_both_tiers_and_celebrate_stays_the_encoders(encoder_model, tiny_model_path,
                                                                    tiny_corpus):
    from mood_tagger.model import TaggerModel
    golds = load_exchanges([tiny_corpus])
    ngram = TaggerModel.load(tiny_model_path)
    e_enc, c_enc = encoder_model.predict_proba(golds)
    e_ngram, _ = ngram.predict_proba(golds)
    blended = make_backend(encoder_model, tiny_model_path, emotion_weight=0.3).predict(golds)
    expected = 0.3 * e_enc + 0.7 * e_ngram
    for p, row, c in zip(blended, expected, c_enc):
        assert p.emotion_name == EMOTION_TAGS[int(row.argmax())]
        assert p.emotion_top[0][1] == pytest.approx(float(row.max()), abs=1e-6)
        assert p.celebrate_p == pytest.approx(float(c), abs=1e-6)
    with pytest.raises(ValueError, match="emotion_weight"):
        make_backend(encoder_model, tiny_model_path, emotion_weight=1.5)


@pytest.mark.parametrize("behaviour, reason", [("slow", "encoder_timeout"), ("fail", "encoder_error")])
def test_slow_or_broken_encoder_falls_back_to_the_classifier(encoder_model, tiny_model_path,
                                                             behaviour, reason):
    def predict(xs):
        if behaviour == "fail":
            raise RuntimeError("onnxruntime exploded")
        time.sleep(0.5)
        return encoder_model.predict(xs)

    backend = make_backend(encoder_model, tiny_model_path, predict)

    async def main():
        r = await backend.atag(EX, 30)
        await backend.aclose()
        return r

    r = run(main())
    assert (r.backend, r.reason, r.model) == ("classifier", reason, "tiny")
    assert r.emotion_name in EMOTION_TAGS and r.celebrate in CELEBRATE_VALUES


def test_no_time_left_answers_with_the_classifier_without_asking(encoder_model, tiny_model_path):
    backend = make_backend(encoder_model, tiny_model_path, predict=lambda xs: pytest.fail("asked"))
    r = run(backend.atag(EX, 0.5))
    assert (r.backend, r.reason) == ("classifier", "encoder_timeout")


# --- cascade and HTTP -----------------------------------------------------------------------

def test_cascade_with_an_encoder_tier_asks_it_when_unsure(encoder_model, tiny_model_path):
    from mood_tagger.backends.cascade import CascadeBackend
    from mood_tagger.model import TaggerModel
    classifier = ClassifierBackend(TaggerModel.load(tiny_model_path))
    unsure = CascadeBackend(classifier, make_backend(encoder_model, tiny_model_path), threshold=1.0)
    sure = CascadeBackend(classifier, make_backend(encoder_model, tiny_model_path), threshold=0.0)
    assert (unsure.tag(EX, 5000).backend, sure.tag(EX, 5000).reason) == ("encoder", "confident")
    assert run(unsure.atag(EX, 5000)).reason == "encoder"
    assert unsure.model_name == f"tiny+{encoder_model.name}"


@pytest.fixture(scope="module")
def encoder_service(tiny_encoder, tiny_model_path):
    from mood_tagger.backends import create_backend
    from mood_tagger.serving.app import create_app
    from mood_tagger.serving.server import ThreadedServer
    from mood_tagger.settings import Settings
    settings = Settings(model=tiny_model_path, backend="encoder", encoder_model=tiny_encoder[3],
                        encoder_emotion_weight=1.0)
    app = create_app(settings, backend=create_backend("encoder", settings))
    with ThreadedServer(app) as srv, httpx.Client(base_url=srv.url, timeout=10) as http:
        yield http


def test_server_with_the_encoder_backend_tags_over_http(encoder_service, encoder_model):
    body = {"user_last_message": EX.user_last_message, "pika_response": EX.pika_response,
            "history": [{"role": "pika", "text": EX.history[0].text}], "deadline_ms": 5000}
    r = encoder_service.post("/v1/tag", json=body)
    assert r.status_code == 200 and r.json()["backend"] == "encoder"
    assert r.json()["emotion_name"] == encoder_model.predict_one(EX).emotion_name
    batch = encoder_service.post("/v1/tag/batch", json={"items": [body] * 5}).json()["results"]
    assert [x["emotion_name"] for x in batch] == [r.json()["emotion_name"]] * 5
    chat = encoder_service.post("/v1/chat/completions", json={"model": "m", "messages": [{
        "role": "user", "content": '[CONTEXT]\nuser_last_message: "5"\npika_response: "Đúng rồi!"\n'}]})
    assert chat.status_code == 200 and chat.json()["choices"][0]["message"]["content"].startswith("{")
