# lossmix_mm: the two commands of the README.
#   make demo   set up, generate the toy data, train and evaluate the CPU default
#   make test   set up, run the whole test suite
PY := .venv/bin/python
TOY_CONFIG ?= configs/toy/faster-rcnn_r18_fpn_lossmix_1xb4-800it_toy.py
WORK_DIR ?= work_dirs/cpu_default

.PHONY: setup data demo test

setup:
	bash tools/setup_cpu.sh

data: setup
	$(PY) tools/generate_toy_data.py --out data/toy

demo: data
	bash tools/run_cpu_default.sh $(TOY_CONFIG) $(WORK_DIR)

test: setup
	$(PY) -m pytest tests -q
