"""Models: the backbone registry, the classifier (which owns the rip score and carries its preprocessing),
the model's input transform, and checkpoints (safetensors + JSON, no pickles)."""
