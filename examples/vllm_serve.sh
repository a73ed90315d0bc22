#!/usr/bin/env bash
# Serve a merged Zen VL folder (or its Hub repo) with vLLM's OpenAI API. Needs a GPU and `pip install vllm`.
# bash examples/vllm_serve.sh agent/finetuned/8b/merged [thinking]
#
# Tool calls: the hermes parser (JSON inside Qwen3's <tool_call> tags). Thinking models: the prompt
# already opens <think>, so the output holds only `reasoning</think>answer`. vLLM's qwen3 reasoning
# parser handles that (read at vllm-project/vllm main 00a4c6a1d828: it strips a generated <think> if
# any, splits on </think>, and treats output without </think> as unfinished reasoning); releases whose
# qwen3 parser still required both tags left the reasoning in the answer (vllm#26239, #29408): there,
# REASONING_PARSER=deepseek_r1 (it splits on </think> when no <think> was generated). docs/EXPORT.md.
set -euo pipefail
extra=()
[ "${2:-}" = thinking ] && extra+=(--reasoning-parser "${REASONING_PARSER:-qwen3}")
vllm serve "$1" --served-model-name zen-vl --enable-auto-tool-choice --tool-call-parser hermes \
  --limit-mm-per-prompt '{"image": 4}' --max-model-len 16384 "${extra[@]}"
