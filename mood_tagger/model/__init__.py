"""The artifact API: load, save, predict, predict_proba."""

from mood_tagger.model.classifier import Prediction, TaggerModel, default_model_path

__all__ = ["Prediction", "TaggerModel", "default_model_path"]
