# Two commands set up everything on a fresh machine:
#   make demo   - create .venv, install gait_tf, fetch the pretrained parts, run the end-to-end demo
#   make test   - create .venv, install gait_tf with test extras, fetch the pretrained parts, run the tests
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.gait_tf-installed
DEMO_OUT ?= demo_out
PYTEST_ARGS ?= --durations=25

.PHONY: demo test venv fetch bench clean

$(STAMP): setup.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev,convert]"
	@touch $(STAMP)

venv: $(STAMP)

# third-party pretrained parts (BlazePose) from the package registry, sha256-checked and
# cached in ~/.cache/gait_tf (GAIT_TF_CACHE); cached files are not downloaded again
fetch: $(STAMP)
	$(VENV)/bin/gait-tf models fetch

demo: fetch
	$(VENV)/bin/gait-tf demo --out $(DEMO_OUT)

test: fetch
	$(PY) -m pytest tests $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(DEMO_OUT) .pytest_cache build *.egg-info
