#!/usr/bin/env bash
# Serve a merged Zen VL folder (or its Hub repo) with vLLM's OpenAI API; tool calls use the hermes parser
# (Qwen3's <tool_call> format), thinking models add the qwen3 reasoning parser. Needs a GPU and `pip install vllm`.
# bash examples/vllm_serve.sh agent/finetuned/8b/merged [thinking]
set -euo pipefail
extra=()
[ "${2:-}" = thinking ] && extra+=(--reasoning-parser qwen3)
vllm serve "$1" --served-model-name zen-vl --enable-auto-tool-choice --tool-call-parser hermes \
  --limit-mm-per-prompt '{"image": 4}' --max-model-len 16384 "${extra[@]}"
