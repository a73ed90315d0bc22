"""`make bench`: training throughput and memory of the project's path against a plain HF + peft LoRA
baseline, on random-weight models of the real Qwen3-VL shapes (no download) or the tiny one."""
