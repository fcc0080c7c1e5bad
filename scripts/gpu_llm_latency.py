"""Time the LLM path of the original plan on a GPU: one tagging = prefill + decode.

No weights can be downloaded here, and latency depends on the architecture, not on the
weights: each model is built from its published config with random weights (bf16).

    python scripts/gpu_llm_latency.py --out docs/gpu-llm-latency.json

Modes per model (batch 1, greedy):
  json      ~15 output tokens ({"emotion_name": "...", "celebrate": "..."})
  one-token 1 output token (one of 26 letter codes, each a tag × yes/no, forced or read
            from top_logprobs)
and with the system prompt's KV cache reused (as vLLM's prefix caching does) or not.
This is HF transformers eager mode: vLLM / TensorRT-LLM add CUDA graphs and fused kernels,
so treat these as an upper bound for the same GPU; the step count (15 vs 1) is what matters.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

ARCHS = {
    # microsoft/Phi-3-mini-4k-instruct config.json
    "Phi-3-mini-4k-instruct (3.8B)": ("Phi3Config", dict(
        vocab_size=32064, hidden_size=3072, intermediate_size=8192, num_hidden_layers=32,
        num_attention_heads=32, num_key_value_heads=32, max_position_embeddings=4096,
        rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False)),
    # Qwen/Qwen2.5-0.5B-Instruct config.json
    "Qwen2.5-0.5B-Instruct": ("Qwen2Config", dict(
        vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
        num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
        rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=True)),
    # Qwen/Qwen2.5-1.5B-Instruct config.json
    "Qwen2.5-1.5B-Instruct": ("Qwen2Config", dict(
        vocab_size=151936, hidden_size=1536, intermediate_size=8960, num_hidden_layers=28,
        num_attention_heads=12, num_key_value_heads=2, max_position_embeddings=32768,
        rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=True)),
}


def build(config_name: str, kwargs: dict):
    import transformers

    config = getattr(transformers, config_name)(**kwargs)
    config._attn_implementation = "sdpa"
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(config, torch_dtype=torch.bfloat16)
    return model.cuda().eval()


def _summary(times_ms: list[float]) -> dict:
    a = np.asarray(times_ms)
    return {"p50_ms": float(np.percentile(a, 50)), "p99_ms": float(np.percentile(a, 99)),
            "mean_ms": float(a.mean()), "runs": len(times_ms)}


@torch.inference_mode()
def one_tagging(model, system_ids, user_ids, new_tokens: int, cached) -> None:
    """Prefill (user part only when `cached` holds the system prefix) then greedy decode."""
    from transformers import DynamicCache

    if cached is not None:
        cache = cached
        out = model(input_ids=user_ids, past_key_values=cache, use_cache=True)
    else:
        cache = DynamicCache()
        out = model(input_ids=torch.cat([system_ids, user_ids], dim=1), past_key_values=cache,
                    use_cache=True)
    token = out.logits[:, -1:].argmax(-1)
    for _ in range(new_tokens - 1):
        out = model(input_ids=token, past_key_values=cache, use_cache=True)
        token = out.logits[:, -1:].argmax(-1)
    if cached is not None:
        cache.crop(-(cache.get_seq_length() - system_ids.shape[1]))  # back to the system prefix


def measure(model, system_len: int, user_len: int, new_tokens: int, cached: bool,
            runs: int, warmup: int) -> dict:
    from transformers import DynamicCache

    vocab = model.config.vocab_size
    g = torch.Generator(device="cpu").manual_seed(1)
    system_ids = torch.randint(100, vocab - 100, (1, system_len), generator=g).cuda()
    user_ids = torch.randint(100, vocab - 100, (1, user_len), generator=g).cuda()
    prefix = None
    if cached:
        prefix = DynamicCache()
        with torch.inference_mode():
            model(input_ids=system_ids, past_key_values=prefix, use_cache=True)
    times = []
    for i in range(warmup + runs):
        torch.cuda.synchronize()
        start = time.perf_counter()
        one_tagging(model, system_ids, user_ids, new_tokens, prefix)
        torch.cuda.synchronize()
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1000)
    return _summary(times)


@torch.inference_mode()
def measure_compiled(model, prompt_len: int, new_tokens: int, runs: int, warmup: int) -> dict:
    """generate() with a static KV cache: transformers compiles the decode step
    (torch.compile, CUDA graphs), close to what vLLM / TensorRT-LLM do."""
    g = torch.Generator(device="cpu").manual_seed(1)
    ids = torch.randint(100, model.config.vocab_size - 100, (1, prompt_len), generator=g).cuda()
    mask = torch.ones_like(ids)
    times = []
    for i in range(warmup + runs):
        torch.cuda.synchronize()
        start = time.perf_counter()
        model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=new_tokens,
                       min_new_tokens=new_tokens, do_sample=False, cache_implementation="static",
                       pad_token_id=0)
        torch.cuda.synchronize()
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1000)
    return _summary(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--system-tokens", type=int, default=900,
                    help="system prompt length (mood_tagger/prompts/tagger-v1.txt is ~3-4k chars)")
    ap.add_argument("--user-tokens", type=int, default=90, help="[CONTEXT] block length")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--out", default="docs/gpu-llm-latency.json")
    ap.add_argument("--compiled", action="store_true",
                    help="also time generate() with a static cache and torch.compile")
    ap.add_argument("--skip-eager", action="store_true", help="only the compiled rows")
    args = ap.parse_args()
    gpu = torch.cuda.get_device_name(0)
    rows = []
    for name, (cfg_name, kwargs) in ARCHS.items():
        model = build(cfg_name, kwargs)
        params = sum(p.numel() for p in model.parameters()) / 1e9
        for mode, new_tokens in (() if args.skip_eager else
                                 (("json (15 tokens)", 15), ("one-token", 1))):
            for cached in (False, True):
                r = measure(model, args.system_tokens, args.user_tokens, new_tokens, cached,
                            args.runs, args.warmup)
                rows.append({"model": name, "params_b": round(params, 2), "mode": mode,
                             "system_prompt_cached": cached, **r})
                print(json.dumps(rows[-1]), flush=True)
        if args.compiled:
            for mode, new_tokens in (("json (15 tokens)", 15), ("one-token", 1)):
                try:
                    r = measure_compiled(model, args.system_tokens + args.user_tokens, new_tokens,
                                         args.runs, args.warmup)
                except Exception as exc:  # report, keep the eager rows
                    print(f"compiled {name} {mode} failed: {exc!r}"[:500], flush=True)
                    continue
                rows.append({"model": name, "params_b": round(params, 2),
                             "mode": mode + ", static cache + torch.compile",
                             "system_prompt_cached": False, **r})
                print(json.dumps(rows[-1]), flush=True)
        del model
        torch.cuda.empty_cache()
    lines = [f"## LLM path on a GPU ({gpu}, transformers {__import__('transformers').__version__}, "
             f"torch {torch.__version__}, bf16, batch 1, eager)", "",
             f"System prompt {args.system_tokens} tokens, [CONTEXT] {args.user_tokens} tokens, "
             f"random weights from each model's published config; {args.runs} runs after "
             f"{args.warmup} warm-ups. Measured with `python scripts/gpu_llm_latency.py`.", "",
             "| model | mode | system prompt cached | p50 ms | p99 ms |", "|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['mode']} | {'yes' if r['system_prompt_cached'] else 'no'} | "
              f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} |" for r in rows]
    with open(args.out, "w") as fh:
        json.dump({"gpu": gpu, "args": vars(args), "rows": rows, "markdown": "\n".join(lines)},
                  fh, indent=2)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
