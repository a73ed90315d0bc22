"""Evaluation: batched generation and the metrics the model cards and paper report."""
