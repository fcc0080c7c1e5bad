"""Export a fine-tuned TaggerNet to a servable folder (torch + onnx; training only):

    config.json      kind "encoder", calibration, training settings, metrics
    tokenizer.json   the pruned unigram tokenizer (pure Python at run time)
    model.onnx       input_ids, attention_mask (int64, batch × length) → logits (batch × 15)

`quantize` is one of mood_tagger.encoder.quantize.SCHEMES ("none" keeps float32).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from pathlib import Path

import torch

from mood_tagger.encoder.quantize import quantize as quantize_graph
from mood_tagger.encoder.tokenizer import UnigramTokenizer
from mood_tagger.labels import CELEBRATE_VALUES, EMOTION_TAGS

FORMAT_VERSION = 1


def export_onnx_graph(net: torch.nn.Module, path: Path, opset: int = 17) -> Path:
    net = net.eval().float().cpu()
    ids = torch.tensor([[0, 5, 6, 7, 2], [0, 8, 2, 1, 1]], dtype=torch.long)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.long)
    axes = {"input_ids": {0: "batch", 1: "length"}, "attention_mask": {0: "batch", 1: "length"},
            "logits": {0: "batch"}}
    with warnings.catch_warnings():       # tracing warns about shape-dependent Python branches
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (ids, mask), str(path), input_names=["input_ids", "attention_mask"],
                          output_names=["logits"], dynamic_axes=axes, opset_version=opset,
                          dynamo=False)
    return path


def export_model(net: torch.nn.Module, tok: UnigramTokenizer, config: dict, out: str | Path,
                 quantize: str = "int8", keep_fp32: tuple[str, ...] = (),
                 calibration: list[list[int]] | None = None) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_onnx_graph(net, Path(tmp) / "model-fp32.onnx")
        if quantize == "none":
            shutil.copyfile(fp32, out / "model.onnx")
        else:
            quantize_graph(fp32, out / "model.onnx", quantize, len(tok), keep_fp32, calibration)
    tok.save(out / "tokenizer.json")
    config = dict(config, format_version=FORMAT_VERSION, kind="encoder",
                  model=dict(config.get("model", {}), quantize=quantize,
                             **({"keep_fp32": list(keep_fp32)} if keep_fp32 else {})),
                  labels={"emotion": list(EMOTION_TAGS), "celebrate": list(CELEBRATE_VALUES)})
    (out / "config.json").write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n",
                                     encoding="utf-8")
    return out
