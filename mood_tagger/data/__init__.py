"""Data: the exchange record, the JSONL loader/validator and corpus summaries."""

from mood_tagger.data.schema import Exchange, Turn
from mood_tagger.data.jsonl import check_file, load_exchanges

__all__ = ["Exchange", "Turn", "check_file", "load_exchanges"]
