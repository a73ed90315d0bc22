#!/usr/bin/env bash
# Run a Zen VL MLX folder with mlx-vlm (after `make mlx`; Apple silicon, or Linux CPU with mlx[cpu]).
# bash examples/mlx_vlm.sh mlx/zen-vl-tiny-agent-4bit IMAGE ["prompt"]
set -euo pipefail
python -m mlx_vlm generate --model "$1" --image "$2" --prompt "${3:-What is on this screen?}" --max-tokens 128 --temperature 0
