"""The accurate tier at run time: the fine-tuned e5-small cross-encoder, through
onnxruntime, with the pure-Python tokenizer (no torch on the serving path).

A saved model is a folder holding config.json (kind "encoder", calibration),
tokenizer.json and model.onnx (see encoder/export.py).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Sequence

import numpy as np

from mood_tagger.data.schema import Exchange
from mood_tagger.encoder.inputs import exchange_ids
from mood_tagger.encoder.tokenizer import UnigramTokenizer
from mood_tagger.errors import ModelError
from mood_tagger.model.calibration import Calibration
from mood_tagger.model.protocol import Prediction, read_config, to_predictions

FILES = ("config.json", "tokenizer.json", "model.onnx")


def default_encoder_path() -> Path:
    return Path(__file__).resolve().parents[1] / "models" / "encoder"


DEVICES = ("cpu", "cuda", "torch-cpu")   # onnxruntime on CPU; torch on CUDA; torch on CPU (checks)


def default_threads() -> int:
    env = os.environ.get("MOOD_TAGGER_ENCODER_THREADS")
    return int(env) if env else max(1, min(4, os.cpu_count() or 1))


class EncoderModel:
    def __init__(self, config: dict, tokenizer: UnigramTokenizer, onnx_path: Path,
                 threads: int | None = None, device: str | None = None):
        self.config = config
        self.tokenizer = tokenizer
        self.calibration = Calibration.from_config(config)
        self.max_len = int(config.get("model", {}).get("max_len", 256))
        self.onnx_path = onnx_path
        self.device = (device or "cpu").lower()
        if self.device not in DEVICES:
            raise ModelError(f"encoder device {self.device!r} is not one of {list(DEVICES)} "
                             "(MOOD_TAGGER_ENCODER_DEVICE)")
        if self.device == "cpu":
            self._run = self._onnx_runner(onnx_path, threads)
        else:
            from mood_tagger.model.torch_runner import TorchRunner
            self._run = TorchRunner(onnx_path, config, device=self.device.removeprefix("torch-")).run

    @staticmethod
    def _onnx_runner(onnx_path: Path, threads: int | None):
        import onnxruntime as ort
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or default_threads()
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        try:
            session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:   # onnxruntime raises its own exception types
            raise ModelError(f"{onnx_path}: onnxruntime cannot load the encoder ({exc}); "
                             "re-export the model folder") from exc
        return lambda ids, mask: session.run(["logits"], {"input_ids": ids, "attention_mask": mask})[0]

    @property
    def name(self) -> str:
        return self.config.get("name", "encoder")

    def token_ids(self, exchanges: Sequence[Exchange]) -> list[list[int]]:
        return [exchange_ids(self.tokenizer, ex, self.max_len) for ex in exchanges]

    def logits(self, seqs: Sequence[list[int]]) -> np.ndarray:
        if not seqs:
            return np.zeros((0, 15), dtype=np.float32)
        width = max(len(s) for s in seqs)
        ids = np.full((len(seqs), width), self.tokenizer.pad, dtype=np.int64)
        mask = np.zeros((len(seqs), width), dtype=np.int64)
        for i, s in enumerate(seqs):
            ids[i, :len(s)] = s
            mask[i, :len(s)] = 1
        return self._run(ids, mask)

    def predict_proba(self, exchanges: Sequence[Exchange], batch_size: int = 16
                      ) -> tuple[np.ndarray, np.ndarray]:
        seqs = self.token_ids(exchanges)
        order = np.argsort([len(s) for s in seqs], kind="stable")
        logits = np.zeros((len(seqs), 15), dtype=np.float32)
        for i in range(0, len(seqs), batch_size):
            idx = order[i:i + batch_size]
            logits[idx] = self.logits([seqs[j] for j in idx])
        return self.calibration.probabilities(logits)

    def predict(self, exchanges: Sequence[Exchange], top_k: int = 3) -> list[Prediction]:
        return to_predictions(*self.predict_proba(exchanges), self.calibration, top_k)

    def predict_one(self, ex: Exchange) -> Prediction:
        return self.predict([ex])[0]

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        import json
        (path / "config.json").write_text(json.dumps(self.config, ensure_ascii=False, indent=2)
                                          + "\n", encoding="utf-8")
        self.tokenizer.save(path / "tokenizer.json")
        if self.onnx_path.resolve() != (path / "model.onnx").resolve():
            shutil.copyfile(self.onnx_path, path / "model.onnx")
        return path

    @classmethod
    def load(cls, path: str | Path | None = None, threads: int | None = None,
             device: str | None = None) -> "EncoderModel":
        path = Path(path) if path is not None else default_encoder_path()
        missing = [n for n in FILES if not (path / n).is_file()]
        if missing:
            raise ModelError(f"{path}: not an encoder model folder (missing {', '.join(missing)}); "
                             "train one with 'mood-tagger train --kind encoder --out PATH'")
        config = read_config(path)
        return cls(config, UnigramTokenizer.load(path / "tokenizer.json"), path / "model.onnx",
                   threads, device)
