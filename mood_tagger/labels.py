"""The label set of ../shared/LABELS.md, in one place."""

EMOTION_TAGS: tuple[str, ...] = (
    "happy",
    "calm",
    "excited",
    "playful",
    "encouraging",
    "curious",
    "surprised",
    "proud",
    "sad",
    "thats_right",
    "worry",
    "thinking",
    "celebration",
)
CELEBRATE_VALUES: tuple[str, ...] = ("no", "yes")
LANGS: tuple[str, ...] = ("vi", "en")
ROLES: tuple[str, ...] = ("pika", "child")
