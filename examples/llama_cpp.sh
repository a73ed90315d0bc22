#!/usr/bin/env bash
# Run a Zen VL GGUF with its vision projector in llama.cpp (after `make gguf`).
# bash examples/llama_cpp.sh gguf/zen-vl-tiny-agent IMAGE ["prompt"]
set -euo pipefail
dir=$1; image=$2; prompt=${3:-"What is on this screen?"}
bin=${LLAMA_CPP_DIR:-$HOME/.cache/zen-vl/src/llama_cpp_python-0.3.36/vendor/llama.cpp}/build/bin
model=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]+'/zen_vl_gguf.json'))['quants'].get('Q4_K_M') or '')" "$dir")
model=${model:-$(ls "$dir" | grep -v '^mmproj' | grep '\.gguf$' | head -1)}
"$bin/llama-mtmd-cli" -m "$dir/$model" --mmproj "$dir"/mmproj-*.gguf --image "$image" -p "$prompt" -n 128 --temp 0
# Server with an OpenAI-compatible API (tool calls through the embedded chat template):
#   llama-server -m "$dir/$model" --mmproj "$dir"/mmproj-*.gguf --jinja --port 8080
