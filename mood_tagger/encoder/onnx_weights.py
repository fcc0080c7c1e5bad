"""Read a TaggerNet's weights back out of an exported encoder graph (model.onnx), so the
same model can run under torch on a GPU (model/torch_runner.py). Needs the `onnx` package.

Named initializers (LayerNorms, biases, embedding tables) keep their torch names. A linear
layer's weight is stored transposed ([in, out]) under an anonymous name; it is named after
the bias that the same layer adds right after the MatMul. Dynamic-int8 weights are
dequantised: w = (q - zero_point) * scale, one scale per output column.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from mood_tagger.errors import ModelError

SUPPORTED = ("none", "int8")       # the schemes whose graphs keep this layout
_PASS_THROUGH = {"Cast", "Mul"}    # between a MatMul(Integer) and its bias Add


def _dequantised(inits: dict[str, np.ndarray], name: str) -> np.ndarray:
    if not name.endswith("_quantized"):
        return inits[name].astype(np.float32)
    base = name[: -len("_quantized")]
    q = inits[name].astype(np.float32)
    return (q - inits[base + "_zero_point"].astype(np.float32)) * inits[base + "_scale"].astype(np.float32)


def _bias_after(node, consumers, inits, depth: int = 4) -> str | None:
    """The `….bias` initializer added to this node's output, a few Cast/Mul steps on."""
    frontier = [node]
    for _ in range(depth):
        nxt = []
        for n in frontier:
            for out in n.output:
                for c in consumers[out]:
                    if c.op_type == "Add":
                        bias = [x for x in c.input if x in inits and x.endswith(".bias")]
                        if bias:
                            return bias[0]
                    if c.op_type in _PASS_THROUGH:
                        nxt.append(c)
        frontier = nxt
    return None


def tagger_state_dict(onnx_path: str | Path, quantize: str = "int8") -> dict[str, np.ndarray]:
    """{torch parameter name: float32 array} for TaggerNet, from an exported graph."""
    if quantize not in SUPPORTED:
        raise ModelError(f"{onnx_path}: the torch runner reads graphs quantised as one of "
                         f"{list(SUPPORTED)}, not {quantize!r}; re-export with --quantize int8")
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    consumers = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            consumers[name].append(node)
    state: dict[str, np.ndarray] = {}
    for name, value in inits.items():
        if name.startswith(("bert.", "head.")) and not name.endswith(("_scale", "_zero_point", "_quantized")):
            state[name] = value.astype(np.float32)
    for node in graph.node:
        if node.op_type == "Gather" and node.input[0] in inits:            # an embedding table
            table = node.input[0]
            state[table.removesuffix("_quantized")] = _dequantised(inits, table)
        elif node.op_type in ("MatMul", "MatMulInteger") and node.input[1] in inits:
            bias = _bias_after(node, consumers, inits)
            if bias is None:
                raise ModelError(f"{onnx_path}: cannot tell which layer weight {node.input[1]} "
                                 "belongs to (no bias Add after it); re-export the model")
            state[bias.removesuffix(".bias") + ".weight"] = _dequantised(inits, node.input[1]).T.copy()
    return state
