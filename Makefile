# zen-vl: the user's verbs. `make help` lists them. Every target takes SIZE= (tiny by default) and,
# where it matters, VARIANT=; config overrides go on the same line: `make train-agent SIZE=8b train.lr=1e-4`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

SIZE    ?= tiny
VARIANT ?= instruct
NPROC   ?= 1
PYTHON  ?= python3
# The torch build to install. This one runs on CPU and on CUDA 13 GPUs; a GPU box may pass its own.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1

VENV := .venv
PY   := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

# Command-line variables: the make variables below, or dotted config keys (train.lr=1e-4), which become
# config overrides, each quoted whole so a value with spaces arrives intact ("data.sources=[{name: a,
# path: a.jsonl}]"); ARGS="..." adds raw overrides. Anything else stops make before any work.
MAKE_VARS := SIZE VARIANT NPROC PYTHON TORCH_SPEC FORCE MODEL SCREENSPOT BFCL FORMAT DEVICE ABLATE DRY_RUN PUSH \
             ARGS ZEN_VL_ROOT ZEN_VL_CACHE LLAMA_CPP_DIR JOBS SIZES BATCH STEPS WARMUP
CLI_VARS    := $(foreach v,$(.VARIABLES),$(if $(filter command line,$(origin $(v))),$(v)))
CONFIG_VARS := $(foreach v,$(CLI_VARS),$(if $(findstring .,$(v)),$(v)))
UNKNOWN     := $(filter-out $(MAKE_VARS) $(CONFIG_VARS),$(CLI_VARS))
ifneq ($(strip $(UNKNOWN)),)
$(error $(shell $(if $(wildcard $(PY)),$(PY),$(PYTHON)) scripts/unknown_vars.py "$(MAKE_VARS)" \
        $(foreach v,$(UNKNOWN),'$(subst ','\'',$(v)=$(value $(v)))')))
endif
OVERRIDES := $(foreach v,$(CONFIG_VARS),'$(subst ','\'',$(v)=$(value $(v)))') $(ARGS)

VARIANTS := instruct thinking agent
# The base(s) one variant needs, checked or fetched before its stage: a config error names that variant.
download_for = $(PY) scripts/download.py --size $(SIZE) --variant $(1) $(OVERRIDES)

.PHONY: help install system-packages stages lint format test test-fast demo all download data $(addprefix train-,$(VARIANTS)) \
        eval gguf mlx upload paper bench bench-gpu gpu-wheels clean docs inspect llama-cpp bfcl-eval summary recheck

help:  ## list the targets
	@echo "zen-vl: Qwen3-VL -> Zen VL (instruct, thinking, agent).  SIZE=$(SIZE) VARIANT=$(VARIANT)"
	@echo "sizes: $$(ls configs/sizes | sed 's/\.yaml//' | tr '\n' ' ')"
	@grep -E '^[a-zA-Z%_ -]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | awk -F'\t' '{printf "  make %-16s %s\n", $$1, $$2}'

install: system-packages $(INSTALLED)  ## system packages (apt-get, as root or with sudo), then .venv with zen-vl and its dependencies

# configs/system-packages.txt: installed when missing (root or passwordless sudo), else the command to run.
system-packages:
	@$(PYTHON) scripts/system_packages.py

$(INSTALLED): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_SPEC)
	$(PY) -m pip install --quiet -e ".[dev,export]"
	@touch $@

download: download-$(SIZE)  ## fetch the base models of SIZE (tiny: build offline)

download-%: $(INSTALLED)  ## download-tiny | download-4b | download-8b | download-30b
	$(PY) scripts/download.py --size $* $(OVERRIDES)

inspect: $(INSTALLED)  ## load the SIZE base offline and show it answering an image prompt
	$(call download_for,$(VARIANT))
	$(PY) scripts/inspect_base.py --size $(SIZE) $(OVERRIDES)

data: $(INSTALLED)  ## build and validate the dataset of SIZE x VARIANT into data/VARIANT/SIZE
	$(call download_for,$(VARIANT))
	$(PY) scripts/build_data.py --size $(SIZE) --variant $(VARIANT) $(if $(FORCE),--force) $(OVERRIDES)

# The engine builds the dataset when it is missing or stale (and only then): no separate data step here.
train-instruct train-thinking train-agent: train-%: $(INSTALLED)  ## train one variant of SIZE (LoRA by default; NPROC=8 for 8 GPUs)
	$(call download_for,$*)
	$(PY) scripts/train.py --size $(SIZE) --variant $* --nproc $(NPROC) $(if $(FORCE),--force) $(OVERRIDES)

eval: $(INSTALLED)  ## evaluate base and finetuned SIZE x VARIANT side by side [MODEL= SCREENSPOT= BFCL=1|dir FORMAT=gguf|mlx|all]
	$(call download_for,$(VARIANT))
	$(PY) scripts/build_data.py --size $(SIZE) --variant $(VARIANT) $(OVERRIDES)
	$(PY) scripts/evaluate.py --size $(SIZE) --variant $(VARIANT) $(if $(MODEL),--model $(MODEL)) \
	  $(if $(SCREENSPOT),--screenspot $(SCREENSPOT)) $(if $(BFCL),--bfcl $(BFCL)) $(if $(FORMAT),--format $(FORMAT)) $(if $(FORCE),--force) $(OVERRIDES)

gguf: $(INSTALLED)  ## llama.cpp GGUF + mmproj + quants into gguf/ (builds pinned llama.cpp once; LLAMA_CPP_DIR= to use yours)
	$(PY) scripts/export_gguf.py --size $(SIZE) --variant $(VARIANT) $(if $(FORCE),--force) $(OVERRIDES)

mlx: $(INSTALLED)  ## mlx-vlm 4-bit and 8-bit into mlx/, each checked against HF in MLX
	$(PY) scripts/export_mlx.py --size $(SIZE) --variant $(VARIANT) $(if $(FORCE),--force) $(OVERRIDES)

upload: $(INSTALLED)  ## push SIZE's variants + GGUF/MLX to the Hub with model cards (dry run without a token; DRY_RUN=1; PUSH=1: no token is an error)
	$(PY) scripts/upload.py --size $(SIZE) $(if $(filter command line,$(origin VARIANT)),--variant $(VARIANT)) \
	  $(if $(DRY_RUN),--dry-run) $(if $(PUSH),--push) $(OVERRIDES)

paper: $(INSTALLED)  ## paper/zen-vl.pdf from the measured results of every size run so far (needs latexmk)
	$(PY) scripts/paper.py $(if $(FORCE),--force)

DEVICE ?= cpu
BENCH_STEPS = $(if $(STEPS),--steps $(STEPS)) $(if $(WARMUP),--warmup $(WARMUP))
bench: $(INSTALLED)  ## tokens/s, step split, memory, MFU: ours vs plain HF+peft LoRA on SIZE's shape (DEVICE=cuda, ABLATE=1, BATCH=fixed|mixed|both)
	$(PY) scripts/bench.py --size $(SIZE) --device $(DEVICE) --batch $(or $(BATCH),both) $(if $(ABLATE),--ablate) $(BENCH_STEPS) $(OVERRIDES)

bench-gpu:  ## the GPU side-by-side table in one run (4b, 8b; both batches; ablations), JSON + bench-gpu.md to $$OUT; on a lent GPU without network
	PYTHON=$(if $(wildcard .venv/bin/python),$(CURDIR)/.venv/bin/python,python3) VIRTUAL_ENV=$(wildcard $(CURDIR)/.venv) \
	  bash scripts/bench_gpu.sh $(if $(SIZES),--sizes $(SIZES)) $(if $(filter command line,$(origin DEVICE)),--device $(DEVICE)) $(BENCH_STEPS) $(OVERRIDES)

gpu-wheels: $(INSTALLED)  ## the wheels bench-gpu needs beyond the GPU machine's own torch, into build/wheels (carry it there)
	$(PY) scripts/gpu_wheels.py

bfcl-eval: $(INSTALLED)  ## build BFCL's own environment (pinned bfcl-eval) into ~/.cache/zen-vl once (make eval BFCL=1 does it when needed)
	$(PY) scripts/setup_bfcl.py

llama-cpp: $(INSTALLED)  ## build the pinned llama.cpp into ~/.cache/zen-vl once (make gguf does it when needed)
	$(PY) scripts/setup_llama_cpp.py

summary: $(INSTALLED)  ## where every artifact of SIZE is, stage times, and the eval table
	$(PY) scripts/summary.py --size $(SIZE)

# ---- make all: every stage is a file target (its artifact's manifest), so a rerun skips what is up
# to date and resumes what is not. Config overrides or FORCE=1 make every stage run its script,
# which compares its own fingerprint (config, data, model) and redoes only what changed.
ROOT_DIR := $(abspath $(or $(ZEN_VL_ROOT),$(CURDIR)))
RECHECK := $(if $(strip $(OVERRIDES) $(FORCE)),recheck)
SIZECFG := configs/sizes/$(SIZE).yaml
BASE_STAMP  := $(ROOT_DIR)/base/$(SIZE)/zen_vl_base.json
data_stamp   = $(ROOT_DIR)/data/$(1)/$(SIZE)/manifest.json
model_stamp  = $(ROOT_DIR)/$(1)/finetuned/$(SIZE)/provenance.json
eval_stamp   = $(ROOT_DIR)/$(1)/finetuned/$(SIZE)/eval/results.json
gguf_stamp   = $(ROOT_DIR)/gguf/zen-vl-$(SIZE)-$(1)/zen_vl_gguf.json
mlx_stamp    = $(ROOT_DIR)/mlx/zen-vl-$(SIZE)-$(1).json
UPLOAD_STAMP := $(ROOT_DIR)/hub/$(SIZE).json
PAPER_PDF    := $(ROOT_DIR)/paper/zen-vl.pdf
# Longest chain first, so that with JOBS > 1 the agent trains while the others fill the other slot.
stamps       = $(foreach v,agent thinking instruct,$(call $(1)_stamp,$(v)))

recheck: ;

# A stage that fails after writing its stamp (make gguf / make mlx write the export's manifest, then
# run the task check) leaves no stamp behind, so the next make runs it again instead of calling it done.
.DELETE_ON_ERROR:

$(BASE_STAMP): $(SIZECFG) $(RECHECK) | $(INSTALLED)
	$(PY) scripts/download.py --size $(SIZE) $(if $(FORCE),--force) $(OVERRIDES)
	@touch $@

$(ROOT_DIR)/data/%/$(SIZE)/manifest.json: $(BASE_STAMP) $(SIZECFG) configs/variants/%.yaml $(RECHECK)
	$(PY) scripts/build_data.py --size $(SIZE) --variant $* $(if $(FORCE),--force) $(OVERRIDES)
	@touch $@

$(ROOT_DIR)/%/finetuned/$(SIZE)/provenance.json: $(ROOT_DIR)/data/%/$(SIZE)/manifest.json $(RECHECK)
	$(PY) scripts/train.py --size $(SIZE) --variant $* --nproc $(NPROC) $(if $(FORCE),--force) $(OVERRIDES)
	@touch $@

$(ROOT_DIR)/%/finetuned/$(SIZE)/eval/results.json: $(ROOT_DIR)/%/finetuned/$(SIZE)/provenance.json $(RECHECK)
	$(PY) scripts/evaluate.py --size $(SIZE) --variant $* $(if $(FORCE),--force) $(OVERRIDES)
	@touch $@

$(ROOT_DIR)/gguf/zen-vl-$(SIZE)-%/zen_vl_gguf.json: $(ROOT_DIR)/%/finetuned/$(SIZE)/provenance.json $(RECHECK)
	$(PY) scripts/export_gguf.py --size $(SIZE) --variant $* $(if $(FORCE),--force) $(OVERRIDES)
	@touch $@

# MLX where mlx-vlm is installed (make install adds it on Linux and macOS); skipped with a note otherwise.
$(ROOT_DIR)/mlx/zen-vl-$(SIZE)-%.json: $(ROOT_DIR)/%/finetuned/$(SIZE)/provenance.json $(RECHECK)
	$(PY) scripts/export_mlx.py --size $(SIZE) --variant $* --if-available $(if $(FORCE),--force) $(OVERRIDES)
	@if [ -f $@ ]; then touch $@; fi

# Written only by a real upload: a dry run (no token) is redone on every `make all`.
$(UPLOAD_STAMP): $(call stamps,model) $(call stamps,gguf) $(call stamps,mlx) $(RECHECK)
	$(PY) scripts/upload.py --size $(SIZE) $(if $(DRY_RUN),--dry-run) $(OVERRIDES)

$(PAPER_PDF): $(call stamps,eval) $(call stamps,gguf) $(call stamps,mlx) $(wildcard paper/*.tex paper/*.bib \
              paper/sections/*.tex src/zen_vl/paper/*.py) $(RECHECK)
	$(PY) scripts/paper.py $(if $(FORCE),--force)

ALL_STAMPS := $(BASE_STAMP) $(call stamps,data) $(call stamps,model) $(call stamps,eval) $(call stamps,gguf) \
              $(call stamps,mlx) $(UPLOAD_STAMP) $(PAPER_PDF)
# Stages of different variants are independent once the base is there, so `make all` runs JOBS of them at
# once, each process on its share of the cores (OMP_NUM_THREADS): on the CPU-only tiny sizes two 1-thread
# processes do 1.35x the work of one 2-thread process (measured, docs/PERFORMANCE.md). Real sizes default
# to one job: two trainings would share one GPU.
JOBS    ?= $(if $(filter tiny%,$(SIZE)),2,1)
THREADS := $(shell n=$$(nproc 2>/dev/null || echo 1); t=$$((n / $(JOBS))); echo $$((t > 0 ? t : 1)))
all: $(INSTALLED)  ## the whole pipeline for SIZE, resumable: download, data, train x3, eval, gguf, mlx, upload, paper [JOBS=]
	@$(if $(filter 1,$(JOBS)),,OMP_NUM_THREADS=$(THREADS)) $(MAKE) --no-print-directory -j$(JOBS) \
	  $(if $(filter 1,$(JOBS)),,--output-sync=target) stages
	@$(PY) scripts/summary.py --size $(SIZE)

stages: $(ALL_STAMPS)

demo:  ## `make all SIZE=tiny` offline on CPU, one-time setup (venv, llama.cpp build) timed apart
	@t0=$$(date +%s); $(MAKE) --no-print-directory install llama-cpp || exit 1; t1=$$(date +%s); \
	  $(MAKE) --no-print-directory all SIZE=tiny || exit 1; t2=$$(date +%s); \
	  echo "one-time setup (venv + llama.cpp build; 0 s when cached): $$((t1 - t0)) s"; \
	  echo "pipeline (make all SIZE=tiny): $$((t2 - t1)) s"

docs: $(INSTALLED)  ## regenerate docs/CONFIG.md from the config schema
	$(PY) scripts/config_reference.py

lint: $(INSTALLED)  ## ruff check + format check
	$(VENV)/bin/ruff check src scripts tests examples
	$(VENV)/bin/ruff format --check src scripts tests examples

format: $(INSTALLED)  ## apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix src scripts tests examples
	$(VENV)/bin/ruff format src scripts tests examples

# The suite runs on TEST_WORKERS pytest-xdist workers, the cores shared among them (OMP_NUM_THREADS, set in
# tests/conftest.py); tests that share a trained tiny run stay on one worker. llama.cpp is built first, once.
TEST_WORKERS ?= 2
test: install lint llama-cpp  ## install (system packages too), lint, then the whole test suite (what CI runs) [TEST_WORKERS=]
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup

test-fast: $(INSTALLED)  ## tests without the slow end-to-end tier
	$(PY) -m pytest -m "not slow"

clean:  ## remove training outputs, exports and build files (keeps base/, .venv and the llama.cpp cache)
	rm -rf data/*/ $(addsuffix /training,$(VARIANTS)) $(addsuffix /finetuned,$(VARIANTS)) \
	       gguf/zen-vl-* mlx/zen-vl-* hub/ paper/build paper/tables paper/figures paper/zen-vl.pdf
