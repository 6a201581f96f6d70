# Two commands set up everything on a fresh machine:
#   make demo   - create .venv, install gait_tf, run the end-to-end demo on synthetic data
#   make test   - create .venv, install gait_tf with test extras, run the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.gait_tf-installed
DEMO_OUT ?= demo_out
PYTEST_ARGS ?=

.PHONY: demo test venv bench clean

$(STAMP): setup.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev,convert]"
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/gait-tf demo --out $(DEMO_OUT)

test: $(STAMP)
	$(PY) -m pytest tests $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(DEMO_OUT) .pytest_cache build *.egg-info
