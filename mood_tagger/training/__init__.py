"""Training: vocabulary, sparse design matrix, a numpy optimiser, calibration."""

from mood_tagger.training.trainer import TrainConfig, train_model

__all__ = ["TrainConfig", "train_model"]
