# nlcl_plugin: common tasks. Every target sets up the environment first (idempotent).
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_WORK_DIR ?= work_dirs/nlcl_demo
DEMO_ITERS ?= 300

.PHONY: setup test test-slow test-all demo compare model-zoo benchmark gpu-check clean

setup:
	@bash scripts/setup_env.sh

# Default test suite (CPU, a few minutes).
test: setup
	$(PY) -m pytest tests -m "not slow"

# Longer tests (multi-process training, long runs).
test-slow: setup
	$(PY) -m pytest tests -m slow

test-all: setup
	$(PY) -m pytest tests

# Train NLCL on the built-in demo data (CPU, minutes), then evaluate it on the demo test split.
demo: setup
	$(PY) tools/train.py configs/nlcl_demo.py --work-dir $(DEMO_WORK_DIR) \
		--cfg-options train_cfg.max_iters=$(DEMO_ITERS)
	$(PY) tools/demo_report.py configs/nlcl_demo.py $(DEMO_WORK_DIR)

# Train and evaluate every NLCL variant, the supervised reference and MMagic's Restormer,
# NAFNet and CycleGAN (configs/zoo/) on the demo data, the same iterations each, once per
# seed, two runs at a time (CPU, a few hours on 2 cores), then regenerate the README table
# (mean ± std over seeds) and configs/metafile.yml; where the authors' files are present
# (../shared/official-nlcl), a figure and NIQE of the zoo on their real rainy photographs.
DEMO_SEEDS ?= 0 1 2
DEMO_JOBS ?= 2
compare: setup
	$(PY) tools/compare_demo.py --iters $(DEMO_ITERS) --seeds $(DEMO_SEEDS) --jobs $(DEMO_JOBS)
	$(PY) tools/model_zoo.py
	$(PY) tools/zoo_real_photos.py

# Regenerate the README table and configs/metafile.yml from results/demo_comparison.json.
model-zoo: setup
	$(PY) tools/model_zoo.py

benchmark: setup
	$(PY) tools/benchmark.py --section all --amp both

# On a CUDA machine (about 9 minutes on one H200): parity, sampler, training through the
# Runner (fp32, AMP), speed and memory (fp32, fp16 and bf16 AMP, channels-last against
# NCHW), torch.compile of the training step and of Derainer, dist_train.sh with NCCL, a
# demo run; writes results/gpu_check.json and results/gpu_check.md. The environment gets
# the CUDA build of torch (requirements/torch-cuda.txt); GPU_PY=python3 uses an interpreter
# that already has torch and the host stack (scripts/install_wheels.sh) instead.
# GPU_CHECK_ARGS: e.g. --quick.
GPU_PY ?=
gpu-check:
	@if [ -z "$(GPU_PY)" ]; then NLCL_TORCH_REQ=requirements/torch-cuda.txt bash scripts/setup_env.sh; fi
	$(or $(GPU_PY),$(PY)) tools/gpu_check.py $(GPU_CHECK_ARGS)

clean:
	rm -rf work_dirs .pytest_cache
