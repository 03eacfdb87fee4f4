"""corpus: build LLM pretraining data from raw text.

This package holds the data's own code: the Document record, datasets on disk, readers and
writers, sources and extraction. It imports neither `filters` nor `pipelines`.
"""

__version__ = "0.1.0"
