"""The training engine: model preparation, collation, Trainer, merge and provenance."""
