"""Evaluation: metrics against labelled exchanges, reports and plots."""

from mood_tagger.evaluation.metrics import compute_metrics, latency_summary

__all__ = ["compute_metrics", "latency_summary"]
