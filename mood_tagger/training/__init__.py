"""Training: the n-gram trainer (numpy) and the encoder trainer (torch), imported lazily
so that neither pulls in the other's dependencies."""


def __getattr__(name):
    if name in ("TrainConfig", "train_model"):
        from mood_tagger.training import trainer
        return getattr(trainer, name)
    raise AttributeError(name)


__all__ = ["TrainConfig", "train_model"]
