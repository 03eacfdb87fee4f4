"""The demo and sample inputs, kept out of the data library: `make demo` (`run_demo.py`), its
generated sample (one module per kind of source, written from the English help topics that ship
with Python), and readers of the real test data in ../shared/data that the tests and benchmarks
share. It sits above `pipelines`, which never imports it."""
