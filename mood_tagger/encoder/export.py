"""Export a fine-tuned TaggerNet to a servable folder (torch + onnx; training only):

    config.json      kind "encoder", calibration, training settings, metrics
    tokenizer.json   the pruned unigram tokenizer (pure Python at run time)
    model.onnx       input_ids, attention_mask (int64, batch × length) → logits (batch × 15)

`quantize="int8"` stores MatMul and embedding weights as per-channel int8 (dynamic
quantisation); "none" keeps float32.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import warnings
from pathlib import Path

import torch

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


def quantize_int8(src: Path, dst: Path, keep_fp32: tuple[str, ...] = ()) -> Path:
    """Dynamic per-channel int8; MatMul nodes whose name contains one of `keep_fp32`
    (e.g. "/head/", "layer.11/") stay float32."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    graph = onnx.load(str(src), load_external_data=False).graph
    exclude = [name for n in graph.node if n.op_type in ("MatMul", "Gemm")
               and any(part in n.name for part in keep_fp32)
               for name in (n.name, n.name + "_MatMul")]    # the quantiser turns Gemm into MatMul
    root = logging.getLogger()                 # quantize_dynamic logs a pre-processing hint there
    level = root.level
    root.setLevel(max(level, logging.ERROR))
    try:
        quantize_dynamic(str(src), str(dst), per_channel=True, weight_type=QuantType.QInt8,
                         op_types_to_quantize=["MatMul", "Gather"], nodes_to_exclude=exclude)
    finally:
        root.setLevel(level)
    return dst


def export_model(net: torch.nn.Module, tok: UnigramTokenizer, config: dict, out: str | Path,
                 quantize: str = "int8", keep_fp32: tuple[str, ...] = ()) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_onnx_graph(net, Path(tmp) / "model-fp32.onnx")
        if quantize == "int8":
            quantize_int8(fp32, out / "model.onnx", keep_fp32)
        elif quantize == "none":
            shutil.copyfile(fp32, out / "model.onnx")
        else:
            raise ValueError(f"quantize must be 'int8' or 'none', not {quantize!r}")
    tok.save(out / "tokenizer.json")
    config = dict(config, format_version=FORMAT_VERSION, kind="encoder",
                  model=dict(config.get("model", {}), quantize=quantize,
                             **({"keep_fp32": list(keep_fp32)} if keep_fp32 else {})),
                  labels={"emotion": list(EMOTION_TAGS), "celebrate": list(CELEBRATE_VALUES)})
    (out / "config.json").write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n",
                                     encoding="utf-8")
    return out
