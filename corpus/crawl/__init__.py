"""The polite crawler: URL rules, fetching with limits, and the WARC-backed frontier."""
