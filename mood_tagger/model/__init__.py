"""The artifact API: load_model (dispatch on config.json's kind), predict, predict_proba."""

from mood_tagger.model.classifier import TaggerModel, default_model_path
from mood_tagger.model.protocol import Model, Prediction, load_model

__all__ = ["Model", "Prediction", "TaggerModel", "default_model_path", "load_model"]
