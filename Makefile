# lossmix_mm: the two commands of the README.
#   make demo   set up, then train and evaluate LossMix and no mixing on the
#               toy data (same data, same seed) and print both, side by side
#   make test   set up, run the whole test suite
#   make lint   set up, check the house style (flake8, isort, yapf, codespell)
#   make format rewrite imports and layout in the house style
#   make cpu-default  train and evaluate one toy config (TOY_CONFIG)
#   make demo-da  domain adaptation on the toy data: source only, then the
#                 LossMix teacher, both evaluated on the target domain
PY := .venv/bin/python
TOY_CONFIG ?= configs/toy/faster-rcnn_r18_fpn_lossmix_1xb4-800it_toy.py
WORK_DIR ?= work_dirs/cpu_default
DA_CONFIG ?= configs/toy/mixed-teacher_faster-rcnn_r18_fpn_lossmix_1xb2+2-200+600it_toy2clipart.py
DA_SOURCE_CONFIG ?= configs/toy/faster-rcnn_r18_fpn_source-only_1xb4-1200it_toy2clipart.py

.PHONY: setup data data-da demo cpu-default demo-da test lint format

setup:
	bash tools/setup_cpu.sh

data: setup
	$(PY) tools/generate_toy_data.py --out data/toy

demo: setup
	$(PY) tools/demo.py

cpu-default: data
	bash tools/run_cpu_default.sh $(TOY_CONFIG) $(WORK_DIR)

data-da: data
	$(PY) tools/generate_toy_data.py --out data/toy_clipart --seed 1 --style clipart

demo-da: data-da
	bash tools/run_cpu_default.sh $(DA_SOURCE_CONFIG) work_dirs/da_source_only
	bash tools/run_cpu_default.sh $(DA_CONFIG) work_dirs/da_lossmix

test: setup
	$(PY) -m pytest tests -q

lint: setup
	PY=$(PY) bash tools/lint.sh

format: setup
	PY=$(PY) bash tools/lint.sh --fix lossmix_mm tools tests configs setup.py
