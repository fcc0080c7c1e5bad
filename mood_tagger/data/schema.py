"""One exchange (child message, Pika reply, optional history) and its labels."""

from __future__ import annotations

from dataclasses import dataclass, field



@dataclass(frozen=True, slots=True)
class Turn:
    role: str  # "pika" | "child"
    text: str


@dataclass(frozen=True, slots=True)
class Exchange:
    """What the tagger reads; labels are present for training and evaluation data."""

    user_last_message: str
    pika_response: str
    history: tuple[Turn, ...] = ()
    id: str | None = None
    lang: str | None = None
    emotion_name: str | None = None
    emotion_ok: tuple[str, ...] = ()
    celebrate: str | None = None
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def labelled(self) -> bool:
        return self.emotion_name is not None and self.celebrate is not None

    def to_json(self) -> dict:
        """The LABELS.md representation (extra bookkeeping fields kept at the end)."""
        out: dict = {}
        if self.id is not None:
            out["id"] = self.id
        if self.lang is not None:
            out["lang"] = self.lang
        if self.history:
            out["history"] = [{"role": t.role, "text": t.text} for t in self.history]
        out["user_last_message"] = self.user_last_message
        out["pika_response"] = self.pika_response
        if self.emotion_name is not None:
            out["emotion_name"] = self.emotion_name
            out["emotion_ok"] = list(self.emotion_ok or (self.emotion_name,))
        if self.celebrate is not None:
            out["celebrate"] = self.celebrate
        out.update(self.extra)
        return out

