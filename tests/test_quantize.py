"""Quantisation schemes of the encoder export (mood_tagger/encoder/quantize.py) on the tiny
fine-tuned encoder: the graph rewrites keep float32 answers, every scheme exports and stays
close to float32, and int8-smooth refuses to run without calibration data."""

from __future__ import annotations

import numpy as np
import pytest

from mood_tagger.data import load_exchanges


def _run(model_or_path, feeds):
    import onnxruntime as ort
    source = model_or_path if isinstance(model_or_path, str) else model_or_path.SerializeToString()
    session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    return np.concatenate([session.run(["logits"], f)[0] for f in feeds])


@pytest.fixture(scope="module")
def feeds(tiny_encoder, tiny_corpus):
    from mood_tagger.encoder.inputs import exchange_ids
    _net, tok, _config, _folder = tiny_encoder
    seqs = [exchange_ids(tok, ex, 64) for ex in load_exchanges([tiny_corpus])]
    return [{"input_ids": np.array([s], dtype=np.int64), "attention_mask": np.ones((1, len(s)), dtype=np.int64)}
            for s in seqs]


def test_smoothing_moves_scales_without_changing_the_float32_answer(tiny_encoder, feeds):
    import onnx
    from onnx import numpy_helper
    from mood_tagger.encoder.quantize import smooth_activations
    folder = tiny_encoder[3]
    original = onnx.load(str(folder / "model.onnx"))
    before = {i.name: numpy_helper.to_array(i) for i in original.graph.initializer}
    smoothed = smooth_activations(onnx.load(str(folder / "model.onnx")), feeds[:8])
    muls = [n for n in smoothed.graph.node if n.name.endswith("_smooth")]
    assert len(muls) == 1                                 # one layer: one FFN input
    (reader,) = [n for n in smoothed.graph.node if muls[0].output[0] in n.input]
    after = {i.name: numpy_helper.to_array(i) for i in smoothed.graph.initializer}
    assert not np.allclose(after[reader.input[1]], before[reader.input[1]])
    np.testing.assert_allclose(_run(smoothed, feeds), _run(str(folder / "model.onnx"), feeds),
                               rtol=1e-4, atol=1e-4)


def test_rowwise_embedding_keeps_every_row_within_half_its_step(tiny_encoder, feeds):
    import onnx
    from onnx import numpy_helper
    from mood_tagger.encoder.quantize import rowwise_int8_embedding
    _net, tok, _config, folder = tiny_encoder
    model = onnx.load(str(folder / "model.onnx"))
    table = next(numpy_helper.to_array(i) for i in model.graph.initializer
                 if len(i.dims) == 2 and i.dims[0] == len(tok))
    rewritten = rowwise_int8_embedding(model, len(tok))
    inits = {i.name: numpy_helper.to_array(i) for i in rewritten.graph.initializer}
    q = next(v for k, v in inits.items() if k.endswith("_int8"))
    scale = next(v for k, v in inits.items() if k.endswith("_scale"))
    assert q.dtype == np.int8 and scale.shape == (len(tok), 1)
    assert np.all(np.abs(q * scale - table) <= scale / 2 + 1e-7)
    np.testing.assert_allclose(_run(rewritten, feeds), _run(str(folder / "model.onnx"), feeds), atol=0.05)


@pytest.mark.parametrize("scheme", ["int8", "int8-smooth", "int8-row", "w8"])
def test_every_scheme_exports_a_model_that_agrees_with_float32(scheme, tiny_encoder, tiny_corpus,
                                                              feeds, tmp_path):
    import json
    from mood_tagger.encoder.export import export_model
    from mood_tagger.encoder.quantize import calibration_ids
    from mood_tagger.model.encoder_model import EncoderModel
    net, tok, config, folder = tiny_encoder
    golds = load_exchanges([tiny_corpus])
    out = export_model(net, tok, config, tmp_path / scheme, quantize=scheme,
                       calibration=calibration_ids(tok, golds, 64, n=16))
    assert json.loads((out / "config.json").read_text())["model"]["quantize"] == scheme
    assert (out / "model.onnx").stat().st_size < 0.6 * (folder / "model.onnx").stat().st_size
    q, f = EncoderModel.load(out), EncoderModel.load(folder)
    agree = np.mean([a.celebrate == b.celebrate for a, b in zip(q.predict(golds), f.predict(golds))])
    assert agree >= 0.9
    assert np.abs(_run(str(out / "model.onnx"), feeds) - _run(str(folder / "model.onnx"), feeds)).max() < 1.0


def test_schemes_that_need_calibration_or_do_not_exist_are_refused(tiny_encoder, tmp_path):
    from mood_tagger.encoder.quantize import quantize
    _net, tok, _config, folder = tiny_encoder
    with pytest.raises(ValueError, match="calibration"):
        quantize(folder / "model.onnx", tmp_path / "q.onnx", "int8-smooth", len(tok))
    with pytest.raises(ValueError, match="one of"):
        quantize(folder / "model.onnx", tmp_path / "q.onnx", "int3", len(tok))
