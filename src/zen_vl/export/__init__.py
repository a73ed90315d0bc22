"""Exports: llama.cpp GGUF (+ mmproj, quants) and mlx-vlm folders, each checked against the original."""
