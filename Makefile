# The two commands a new user needs: `make demo` and `make test`.
# Both set up .venv first (idempotent, see tools/setup_env.sh).
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup demo demo-seg demo-cls demo-sal test test-pythons lint format clean

setup:
	bash tools/setup_env.sh $(VENV)

demo: setup
	$(PY) tools/demo/run_demo.py seg
	$(PY) tools/demo/run_demo.py cls
	$(PY) tools/saliency/demo.py

demo-seg: setup
	$(PY) tools/demo/run_demo.py seg

demo-cls: setup
	$(PY) tools/demo/run_demo.py cls

demo-sal: setup
	$(PY) tools/saliency/demo.py

test: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest tests $(PYTEST_ARGS)

# bikd_mm.core's tests under Python 3.10 and 3.12 (tools/test_pythons.sh).
test-pythons: setup
	bash tools/test_pythons.sh

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: setup
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

clean:
	rm -rf $(VENV) work_dirs .pytest_cache .ruff_cache
