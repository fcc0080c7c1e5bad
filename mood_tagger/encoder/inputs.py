"""An exchange → the encoder's token ids, shared by training and serving (no torch).

Layout, oldest first, so the decisive last turns sit next to each other:

    <s> passage: [Pika: …] [Bé: …] … Bé: <child message> Pika: <Pika's reply> </s>

When it does not fit `max_len`, the oldest history turns go first; then the reply keeps
its head and its tail (cues sit at either end) and the child message its head.
"""

from __future__ import annotations

from mood_tagger.data.schema import Exchange
from mood_tagger.encoder.tokenizer import UnigramTokenizer

SPEAKER = {"pika": "Pika:", "child": "Bé:"}
MAX_CHILD, MAX_REPLY = 96, 192


def _head_tail(ids: list[int], n: int) -> list[int]:
    if len(ids) <= n:
        return ids
    head = (2 * n) // 3
    return ids[:head] + ids[len(ids) - (n - head):]


def exchange_ids(tok: UnigramTokenizer, ex: Exchange, max_len: int = 256) -> list[int]:
    prefix = tok.encode("passage:")
    child = tok.encode(f"{SPEAKER['child']} {ex.user_last_message}")[:MAX_CHILD]
    reply = _head_tail(tok.encode(f"{SPEAKER['pika']} {ex.pika_response}"), MAX_REPLY)
    room = max_len - 2 - len(prefix) - len(child) - len(reply)
    if room < 0:                          # shrink the reply first, keep at least its ends
        reply = _head_tail(reply, max(16, len(reply) + room))
        child = child[:max(8, max_len - 2 - len(prefix) - len(reply))]
        room = max_len - 2 - len(prefix) - len(child) - len(reply)
    history: list[int] = []
    for turn in reversed(ex.history):
        ids = tok.encode(f"{SPEAKER.get(turn.role, 'Bé:')} {turn.text}")
        if len(ids) > room - len(history):
            if not history:              # the last turn matters most: keep its tail
                history = ids[len(ids) - max(0, room):] if room > 0 else []
            break
        history = ids + history
    out = [tok.bos] + prefix + history + child + reply + [tok.eos]
    return out[:max_len]
