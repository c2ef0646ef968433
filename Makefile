# nlcl_plugin: common tasks. Every target sets up the environment first (idempotent).
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_WORK_DIR ?= work_dirs/nlcl_demo
DEMO_ITERS ?= 300

.PHONY: setup test test-slow test-all demo compare model-zoo benchmark clean

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

# Train and evaluate every NLCL variant and the supervised reference on the demo data
# (CPU, about half an hour), then regenerate the README table and configs/metafile.yml.
compare: setup
	$(PY) tools/compare_demo.py --iters $(DEMO_ITERS)
	$(PY) tools/model_zoo.py

# Regenerate the README table and configs/metafile.yml from results/demo_comparison.json.
model-zoo: setup
	$(PY) tools/model_zoo.py

benchmark: setup
	$(PY) tools/benchmark.py --section all --amp both

clean:
	rm -rf work_dirs .pytest_cache
