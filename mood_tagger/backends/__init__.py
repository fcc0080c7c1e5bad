"""Tagging backends: one interface, small implementations registered by name."""

from mood_tagger.backends.base import Backend, TagResult, create_backend, register

__all__ = ["Backend", "TagResult", "create_backend", "register"]
