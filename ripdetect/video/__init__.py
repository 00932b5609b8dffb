"""Video: frame streaming and writing, analysis, the pure temporal aggregator, per-input reports and batches."""
