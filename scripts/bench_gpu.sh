#!/usr/bin/env bash
# bash scripts/bench_gpu.sh [ARGS for scripts/bench_gpu.py]
# On a lent GPU machine with no network and its own torch: installs the wheels carried in
# build/wheels (made here by `make gpu-wheels`) without touching torch, then runs the bench suite
# from the source tree. Writes to $OUT (default bench/results/gpu).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
SITE=""
if [ -d build/wheels ] && [ -z "${VIRTUAL_ENV:-}" ]; then  # the machine's python: leave its packages alone
  SITE=$(mktemp -d)
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" build/wheels/*.whl
fi
export PYTHONPATH="$PWD/src${SITE:+:$SITE}${PYTHONPATH:+:$PYTHONPATH}"
"$PY" -c 'import torch, transformers, peft; print("torch", torch.__version__, "transformers", transformers.__version__, "peft", peft.__version__, "cuda", torch.cuda.is_available())'
exec "$PY" scripts/bench_gpu.py "$@"
