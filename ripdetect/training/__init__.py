"""Training: the train/evaluate loops, losses, metrics, evaluation, and finishing a model (threshold, CAM
scale); ``run.train_model`` does a whole run."""
