"""zen-vl: turn a Qwen3-VL base into the Zen VL family (instruct, thinking, agent)."""

__version__ = "0.1.0"
