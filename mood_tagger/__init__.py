"""mood-tagger: real-time emotion and celebrate tagging for Pika's replies."""

__version__ = "0.1.0"
