"""The GPU path's weights: read back out of model.onnx, they make the same network.

CI has no GPU, so the torch runner is checked on CPU (`torch-cpu`); the CUDA-graph buckets
are measured on the device (docs/gpu-encoder.md)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from mood_tagger.data import load_exchanges
from mood_tagger.encoder.onnx_weights import tagger_state_dict
from mood_tagger.errors import ModelError
from mood_tagger.model.encoder_model import EncoderModel
from mood_tagger.model.torch_runner import _bucket


def test_the_weights_read_from_onnx_are_the_trained_ones(tiny_encoder):
    net, _, _, folder = tiny_encoder
    state = tagger_state_dict(folder / "model.onnx", "none")
    trained = {k: v.detach().numpy() for k, v in net.state_dict().items() if not k.endswith("position_ids")}
    assert set(state) == set(trained)
    for name, value in trained.items():
        np.testing.assert_allclose(state[name], value, atol=1e-6, err_msg=name)


def test_torch_on_cpu_tags_like_onnxruntime(tiny_encoder, tiny_corpus):
    folder = tiny_encoder[3]
    exchanges = load_exchanges([tiny_corpus])[:24]
    onnx_p = EncoderModel.load(folder).predict_proba(exchanges)
    torch_model = EncoderModel.load(folder, device="torch-cpu")
    torch_p = torch_model.predict_proba(exchanges)
    np.testing.assert_allclose(torch_p[0], onnx_p[0], atol=1e-4)
    np.testing.assert_allclose(torch_p[1], onnx_p[1], atol=1e-4)
    assert torch_model.device == "torch-cpu"


def test_an_int8_graph_dequantises_close_to_the_float_weights(tiny_encoder, tmp_path):
    from mood_tagger.encoder.quantize import quantize

    net, tok, _, folder = tiny_encoder
    quantize(folder / "model.onnx", tmp_path / "model.onnx", "int8", len(tok))
    state = tagger_state_dict(tmp_path / "model.onnx", "int8")
    for name, value in net.state_dict().items():
        if name.endswith("position_ids"):
            continue
        value = value.detach().numpy()
        step = np.abs(value).max() / 100          # int8: within ~1/254 of the range, per column
        assert np.abs(state[name] - value).max() <= step, name


def test_unknown_device_and_unreadable_scheme_are_named(tiny_encoder, tmp_path):
    folder = tiny_encoder[3]
    with pytest.raises(ModelError, match="'tpu' is not one of"):
        EncoderModel.load(folder, device="tpu")
    copy = tmp_path / "enc"
    shutil.copytree(folder, copy)
    config = json.loads((copy / "config.json").read_text())
    config["model"]["quantize"] = "w8"
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="not 'w8'"):
        EncoderModel.load(copy, device="torch-cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_without_a_gpu_says_so(tiny_encoder):
    with pytest.raises(ModelError, match="no CUDA GPU"):
        EncoderModel.load(tiny_encoder[3], device="cuda")


def test_buckets_round_up_and_give_up_past_the_largest():
    assert _bucket(1, (1, 2, 4)) == 1
    assert _bucket(3, (1, 2, 4)) == 4
    assert _bucket(5, (1, 2, 4)) is None


def test_the_service_setting_picks_the_torch_path(tiny_encoder, tiny_model_path, tiny_corpus):
    from mood_tagger.backends import create_backend
    from mood_tagger.settings import Settings

    settings = Settings(model=tiny_model_path, backend="encoder", encoder_model=tiny_encoder[3],
                        encoder_device="torch-cpu", encoder_emotion_weight=1.0)
    backend = create_backend("encoder", settings)
    assert backend.model.device == "torch-cpu"
    ex = load_exchanges([tiny_corpus])[0]
    want = EncoderModel.load(tiny_encoder[3]).predict_one(ex)
    got = backend.tag(ex, 10_000)
    assert (got.emotion_name, got.celebrate) == (want.emotion_name, want.celebrate)
