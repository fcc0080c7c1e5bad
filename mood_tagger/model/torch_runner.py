"""The encoder under torch, for GPU servers (`MOOD_TAGGER_ENCODER_DEVICE=cuda`; extra `gpu`).

The weights come out of the shipped model.onnx (encoder/onnx_weights.py), so CPU and GPU
serve the same model. On CUDA the network runs in float16 and every (batch, length) bucket
is captured once as a CUDA graph: inputs are padded to the bucket, and one replay replaces
the ~150 kernel launches of an eager forward pass. `device="cpu"` runs it eagerly in
float32 (a check that the weights were read right).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from mood_tagger.errors import ModelError

BATCHES = (1, 2, 4, 8, 16, 32, 64)
LENGTHS = (32, 64, 128, 256)


def _bucket(n: int, sizes: tuple[int, ...]) -> int | None:
    return next((s for s in sizes if s >= n), None)


def _import_torch(device: str):
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as exc:
        raise ModelError(f"encoder device {device!r} needs torch and transformers: "
                         "pip install 'mood-tagger[gpu]'") from exc
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelError("encoder device 'cuda': torch sees no CUDA GPU here; "
                         "use MOOD_TAGGER_ENCODER_DEVICE=cpu (onnxruntime)")
    return torch


class TorchRunner:
    """`run(ids, mask)` → logits (float32 numpy), like the onnxruntime session."""

    def __init__(self, onnx_path: Path, config: dict, device: str = "cuda", graphs: bool = True):
        torch = _import_torch(device)
        from transformers import BertConfig, BertModel

        from mood_tagger.encoder.bert import TaggerNet
        from mood_tagger.encoder.onnx_weights import tagger_state_dict

        model_cfg = config.get("model", {})
        state = tagger_state_dict(onnx_path, model_cfg.get("quantize", "int8"))
        word = state["bert.embeddings.word_embeddings.weight"]
        layers = sum(1 for k in state if k.endswith("attention.self.query.weight"))
        bert_cfg = BertConfig(vocab_size=word.shape[0], hidden_size=word.shape[1],
                              num_hidden_layers=layers, num_attention_heads=int(model_cfg.get("heads", 12)),
                              intermediate_size=state["bert.encoder.layer.0.intermediate.dense.weight"].shape[0],
                              hidden_act="gelu", layer_norm_eps=1e-12,
                              max_position_embeddings=state["bert.embeddings.position_embeddings.weight"].shape[0],
                              type_vocab_size=state["bert.embeddings.token_type_embeddings.weight"].shape[0])
        net = TaggerNet(BertModel(bert_cfg, add_pooling_layer=False))
        tensors = {k: torch.from_numpy(v) for k, v in state.items()}
        missing, unexpected = net.load_state_dict(tensors, strict=False)
        missing = [m for m in missing if not m.endswith("position_ids")]
        if missing or unexpected:
            raise ModelError(f"{onnx_path}: weights do not fit the network "
                             f"(missing {missing[:3]}, unexpected {unexpected[:3]}); re-export")
        self.torch = torch
        self.device = torch.device(device)
        self.dtype = torch.float16 if device == "cuda" else torch.float32
        self.net = net.eval().to(self.device, self.dtype)
        self.graphs_on = graphs and device == "cuda"
        self.graphs: dict[tuple[int, int], tuple] = {}
        self.lock = threading.Lock()
        self._capture_all()

    def _eager(self, ids: np.ndarray, mask: np.ndarray):
        t = self.torch
        with t.inference_mode():
            out = self.net(t.from_numpy(ids).to(self.device), t.from_numpy(mask).to(self.device))
        return out.float().cpu().numpy()

    def _graph(self, batch: int, length: int) -> tuple:
        """(graph, static ids, static mask, static logits) for one bucket, captured once."""
        if (batch, length) not in self.graphs:
            t = self.torch
            ids = t.zeros((batch, length), dtype=t.long, device=self.device)
            # a mask with padding, so that no "all ones: drop the mask" shortcut is captured
            mask = t.zeros((batch, length), dtype=t.long, device=self.device)
            mask[:, 0] = 1
            stream = t.cuda.Stream()
            stream.wait_stream(t.cuda.current_stream())
            with t.cuda.stream(stream), t.inference_mode():
                for _ in range(3):                     # warm-up before capture
                    self.net(ids, mask)
            t.cuda.current_stream().wait_stream(stream)
            graph = t.cuda.CUDAGraph()
            with t.cuda.graph(graph), t.inference_mode():
                out = self.net(ids, mask)
            self.graphs[(batch, length)] = (graph, ids, mask, out)
        return self.graphs[(batch, length)]

    def run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        batch, length = ids.shape
        b, n = _bucket(batch, BATCHES), _bucket(length, LENGTHS)
        if not self.graphs_on or b is None or n is None:
            with self.lock:
                return self._eager(ids, mask)
        with self.lock:
            graph, s_ids, s_mask, s_out = self._graph(b, n)
            s_ids.zero_()
            s_mask.zero_()
            s_mask[:, 0] = 1                           # padded rows: one token, ignored below
            s_ids[:batch, :length].copy_(self.torch.from_numpy(ids), non_blocking=True)
            s_mask[:batch, :length].copy_(self.torch.from_numpy(mask), non_blocking=True)
            graph.replay()
            return s_out[:batch].float().cpu().numpy()

    def _capture_all(self) -> None:
        """Capture every bucket at start, so no request pays for a capture."""
        if self.graphs_on:
            with self.lock:
                for b in BATCHES:
                    for n in LENGTHS:
                        self._graph(b, n)
