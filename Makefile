# Two commands do all set-up on a fresh machine (Python >= 3.10 with venv):
#   make demo   classify the example pages with the shipped default model
#   make test   run the test suite
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test install install-test benchmark train

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install -q -e ".[test]"
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: install
	$(VENV)/bin/klassify predict data/examples --exclude '*.json' --format table

test: install-test
	$(PY) -m pytest -q

train: install-test
	$(PY) train.py --model tfidf

benchmark: install
	$(PY) benchmarks/run.py
