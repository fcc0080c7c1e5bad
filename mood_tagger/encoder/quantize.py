"""Quantise an exported float32 TaggerNet graph (onnx + onnxruntime.quantization; training only).

Schemes (`export_model(quantize=...)`):

    none     float32 throughout
    int8     dynamic int8: MatMul weights per channel, activations per tensor at run time, and
             the embedding table per tensor (onnxruntime's quantize_dynamic)
    int8-smooth  int8 after SmoothQuant: activation outliers moved into the weights, scales
             from training exchanges (`calibration`); same size and speed as int8
    int8-row dynamic int8 MatMuls; the word-embedding table int8 with one scale per row
    w8       weight-only 8-bit MatMuls (MatMulNBits, blocks of 32 along the input, activations
             quantised per block at run time); embedding table int8 per row. On 2 cores
             (12 layers) it is 2x slower than int8, and 4-bit was no faster and less exact

Per-tensor int8 of the embedding table is coarse: one scale for 40,000 rows whose norms
differ a lot. One scale per row keeps each row's error below half its own step.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path

import numpy as np

SCHEMES = ("none", "int8", "int8-smooth", "int8-row", "w8")


@contextmanager
def _quiet_root_logger():
    """onnxruntime.quantization logs hints on the root logger; restore its level after."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))
    try:
        yield
    finally:
        root.setLevel(level)


def _keep_nodes(graph, keep_fp32: tuple[str, ...]) -> list[str]:
    return [name for n in graph.node if n.op_type in ("MatMul", "Gemm")
            and any(part in n.name for part in keep_fp32)
            for name in (n.name, n.name + "_MatMul")]    # the quantiser turns Gemm into MatMul


def quantize_int8(src: Path, dst: Path, keep_fp32: tuple[str, ...] = (),
                  op_types: tuple[str, ...] = ("MatMul", "Gather")) -> Path:
    """Dynamic per-channel int8 of `op_types` (MatMuls and the embedding Gather); MatMul nodes
    whose name contains one of `keep_fp32` (e.g. "/head/", "layer.11/") stay float32."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    graph = onnx.load(str(src), load_external_data=False).graph
    with _quiet_root_logger():
        quantize_dynamic(str(src), str(dst), per_channel=True, weight_type=QuantType.QInt8,
                         op_types_to_quantize=list(op_types),
                         nodes_to_exclude=_keep_nodes(graph, keep_fp32))
    return dst


@contextmanager
def _staged(model, dst: Path):
    """A rewritten graph saved beside `dst` for onnxruntime's file-based quantiser; removed after."""
    import onnx
    staged = dst.with_suffix(".staged.onnx")
    onnx.save(model, str(staged))
    try:
        yield staged
    finally:
        staged.unlink(missing_ok=True)


def rowwise_int8_embedding(model, vocab: int):
    """Replace the float32 word-embedding Gather (initializer [vocab, hidden]) by an int8 table
    with one float32 scale per row: Gather(q) → Cast → Mul(Gather(scale)). In place."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    for index, node in enumerate(graph.node):
        table = inits.get(node.input[0]) if node.op_type == "Gather" else None
        if table is None or len(table.dims) != 2 or table.dims[0] != vocab:
            continue
        w = numpy_helper.to_array(table).astype(np.float32)
        scale = np.maximum(np.abs(w).max(axis=1, keepdims=True), 1e-12) / 127.0
        q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
        base = table.name
        graph.initializer.remove(table)
        graph.initializer.extend([numpy_helper.from_array(q, base + "_int8"),
                                  numpy_helper.from_array(scale.astype(np.float32), base + "_scale")])
        ids, out = node.input[1], node.output[0]
        new = [helper.make_node("Gather", [base + "_int8", ids], [out + "_q"], axis=0),
               helper.make_node("Cast", [out + "_q"], [out + "_f"], to=TensorProto.FLOAT),
               helper.make_node("Gather", [base + "_scale", ids], [out + "_s"], axis=0),
               helper.make_node("Mul", [out + "_f", out + "_s"], [out])]
        graph.node.remove(node)
        for offset, n in enumerate(new):
            graph.node.insert(index + offset, n)
        onnx.checker.check_model(model)
        return model
    raise ValueError(f"no Gather over a [{vocab}, hidden] initializer: not a TaggerNet graph")


def quantize(src: Path, dst: Path, scheme: str, vocab: int, keep_fp32: tuple[str, ...] = (),
             calibration: list[list[int]] | None = None) -> Path:
    """Write `src` (float32 onnx) quantised with `scheme` to `dst`. `calibration`: token-id
    sequences of training exchanges (int8-smooth needs them; never evaluation data)."""
    import onnx
    if scheme not in SCHEMES or scheme == "none":
        raise ValueError(f"quantize must be one of {list(SCHEMES)}, not {scheme!r}")
    if scheme == "int8":
        return quantize_int8(src, dst, keep_fp32)
    if scheme == "int8-smooth":
        if not calibration:
            raise ValueError("int8-smooth needs calibration sequences (token ids of training exchanges)")
        feeds = [{"input_ids": np.array([ids], dtype=np.int64),
                  "attention_mask": np.ones((1, len(ids)), dtype=np.int64)} for ids in calibration]
        with _staged(smooth_activations(onnx.load(str(src)), feeds), dst) as staged:
            return quantize_int8(staged, dst, keep_fp32)
    model = rowwise_int8_embedding(onnx.load(str(src)), vocab)
    if scheme == "int8-row":                      # the embedding is int8 already: MatMuls only
        with _staged(model, dst) as staged:
            return quantize_int8(staged, dst, keep_fp32, op_types=("MatMul",))
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
    with _quiet_root_logger():
        quantizer = MatMulNBitsQuantizer(model, bits=8, block_size=32, is_symmetric=True,
                                         accuracy_level=4,
                                         nodes_to_exclude=_keep_nodes(model.graph, keep_fp32))
        quantizer.process()
    onnx.save(quantizer.model.model, str(dst))
    return dst


def activation_absmax(model, feeds: list[dict], names: list[str]) -> dict[str, np.ndarray]:
    """Per-channel max |x| of the named tensors over `feeds` (float32 graph, onnxruntime)."""
    import onnx
    import onnxruntime as ort
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    del probe.graph.output[:]
    probe.graph.output.extend([onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None)
                               for n in names])
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    peak: dict[str, np.ndarray] = {}
    for feed in feeds:
        keep = feed["attention_mask"].astype(bool)          # padding positions do not count
        for name, value in zip(names, session.run(names, feed)):
            flat = np.abs(value[keep] if value.ndim == 3 else value).reshape(-1, value.shape[-1])
            peak[name] = np.maximum(peak.get(name, 0.0), flat.max(axis=0))
    return peak


SMOOTHED_PRODUCERS = ("Mul", "Gelu")    # the FFN's GELU output (exported as x·½·(1+erf))


def smooth_activations(model, feeds: list[dict], alpha: float = 0.8):
    """SmoothQuant (Xiao et al., 2023) on the inputs of the FFN's second MatMul, where BERT's
    activation outliers are: divide X's channels by s = max|X|^α / max|W|^(1-α) (one Mul)
    and multiply W's rows by s. The float32 result is unchanged; outliers move into W, which
    is quantised per channel, so per-tensor dynamic quantisation of X loses less.

    Measured on a 12-layer e5 graph (mean |Δlogit| against float32, p50 on 2 cores): int8
    0.100 at 6.0 ms; smoothing the FFN inputs 0.060 at 5.8 ms; also the LayerNorm-fed inputs
    0.047 at 8.2 ms (a Mul after LayerNorm defeats onnxruntime's fusions), so those are left
    alone. α: 0.25-1.0 tried, 0.8 best. In place."""
    from onnx import helper, numpy_helper
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    producer = {out: n for n in graph.node for out in n.output}
    readers: dict[str, list] = {}
    for n in graph.node:
        if (n.op_type == "MatMul" and n.input[1] in inits and len(inits[n.input[1]].dims) == 2
                and getattr(producer.get(n.input[0]), "op_type", None) in SMOOTHED_PRODUCERS):
            readers.setdefault(n.input[0], []).append(n)
    peak = activation_absmax(model, feeds, sorted(readers))
    for x, nodes in readers.items():
        ws = [numpy_helper.to_array(inits[n.input[1]]).astype(np.float32) for n in nodes]   # [in, out]
        w_peak = np.max([np.abs(w).max(axis=1) for w in ws], axis=0)
        s = (np.maximum(peak[x], 1e-5) ** alpha / np.maximum(w_peak, 1e-5) ** (1 - alpha))
        s = np.clip(s, 1e-4, 1e2).astype(np.float32)
        for n, w in zip(nodes, ws):
            graph.initializer.remove(inits[n.input[1]])
            graph.initializer.append(numpy_helper.from_array(w * s[:, None], n.input[1]))
        inv, smoothed = x + "_smooth_inv", x + "_smoothed"
        graph.initializer.append(numpy_helper.from_array(1.0 / s, inv))
        first = min(list(graph.node).index(n) for n in nodes)
        graph.node.insert(first, helper.make_node("Mul", [x, inv], [smoothed], name=x + "_smooth"))
        for n in nodes:
            n.input[0] = smoothed
    return model


def calibration_ids(tok, exchanges, max_len: int, n: int = 256, seed: int = 13) -> list[list[int]]:
    """Token ids of a fixed random sample of `n` training exchanges (the activation ranges that
    int8-smooth measures; the same exchanges give the same model)."""
    from mood_tagger.encoder.inputs import exchange_ids
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(exchanges), size=min(n, len(exchanges)), replace=False)
    return [exchange_ids(tok, exchanges[i], max_len) for i in sorted(pick)]
