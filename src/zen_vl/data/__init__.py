"""Datasets: the on-disk conversation format, its validator, adapters and generators."""
