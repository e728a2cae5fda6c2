# The two commands of the README. Both set everything up first (idempotent, quick when done).
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test check bench lab clean

setup:
	@bash scripts/setup.sh

demo: setup
	$(PY) examples/hello.py
	$(PY) examples/walkthrough.py notebooks/01-hello-wasm.ipynb

test: setup check
	$(PY) -m pytest -q $(PYTEST_ARGS)

check: setup
	$(PY) -m ruff check wagi_nb tests benchmarks scripts examples
	$(PY) -m mypy

bench: setup
	$(PY) benchmarks/run.py

lab: setup
	$(PY) -m pip install -q "jupyterlab>=4,<5"
	$(VENV)/bin/jupyter lab notebooks/

clean:
	rm -rf $(VENV) build *.egg-info
