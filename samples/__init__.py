"""Sample inputs, kept out of the data library: the demo's generated sample (one module per kind
of source, written from the English help topics that ship with Python) and readers of the real
test data in ../shared/data that the tests and benchmarks share."""
