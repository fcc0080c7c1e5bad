"""The encoder's architecture on a GPU through torch (fp16): batch-1 p50/p99 eager and with a
CUDA graph at a static length, and batch-64 throughput. Weights: the pruned e5 base (latency
depends on the architecture and the input length only, not on the fine-tuned values; random
weights of the same shape without --base); inputs:
the shipped tokenizer's ids for real exchanges.

    python scripts/gpu_encoder_torch_latency.py --base build/e5-pruned.bin --out gpu-torch.json
"""

import argparse
import json
import time

import numpy as np
import torch

from mood_tagger.data import load_exchanges
from mood_tagger.encoder.bert import TaggerNet, bert_from_e5
from mood_tagger.encoder.e5_format import read_e5_file
from mood_tagger.model.encoder_model import EncoderModel


def pct(t):
    return round(float(np.percentile(t, 50)), 3), round(float(np.percentile(t, 99)), 3)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", help="pruned e5 base file (default: random weights of the same shape)")
    ap.add_argument("--data", default="data/test")
    ap.add_argument("--static-len", type=int, default=128)
    ap.add_argument("--out", default="gpu-torch.json")
    args = ap.parse_args()
    dev = torch.device("cuda")
    if args.base:
        bert = bert_from_e5(read_e5_file(args.base), None, 12)
    else:
        from transformers import BertConfig, BertModel
        bert = BertModel(BertConfig(vocab_size=40_000, hidden_size=384, num_hidden_layers=12,
                                    num_attention_heads=12, intermediate_size=1536,
                                    max_position_embeddings=512), add_pooling_layer=False)
    net = TaggerNet(bert).to(dev).half().eval()
    seqs = EncoderModel.load().token_ids(load_exchanges([args.data]))
    out = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__,
           "mean_tokens": round(float(np.mean([len(s) for s in seqs])), 1)}
    with torch.inference_mode():
        t = []
        for i in range(330):
            s = seqs[i % len(seqs)]
            ids = torch.tensor([s], device=dev)
            start = time.perf_counter()
            net(ids, torch.ones_like(ids))
            torch.cuda.synchronize()
            if i >= 30:
                t.append((time.perf_counter() - start) * 1000)
        out["eager_batch1_p50_ms"], out["eager_batch1_p99_ms"] = pct(t)
        L = args.static_len
        ids = torch.zeros((1, L), dtype=torch.long, device=dev)
        mask = torch.zeros((1, L), dtype=torch.long, device=dev)
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(3):
                net(ids, mask)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            logits = net(ids, mask)
        t = []
        for i in range(330):
            s = seqs[i % len(seqs)][:L]
            start = time.perf_counter()
            ids.zero_()
            mask.zero_()
            ids[0, :len(s)] = torch.tensor(s, device=dev)
            mask[0, :len(s)] = 1
            graph.replay()
            logits.float().cpu()
            if i >= 30:
                t.append((time.perf_counter() - start) * 1000)
        out[f"graph_len{L}_batch1_p50_ms"], out[f"graph_len{L}_batch1_p99_ms"] = pct(t)
        width = 128
        batch = torch.tensor([(s + [1] * width)[:width] for s in seqs[:64]], device=dev)
        bmask = torch.ones_like(batch)
        for _ in range(3):
            net(batch, bmask)
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(20):
            net(batch, bmask)
        torch.cuda.synchronize()
        out["batch64_len128_per_s"] = round(64 * 20 / (time.perf_counter() - start), 1)
    print(json.dumps(out, indent=1))
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
