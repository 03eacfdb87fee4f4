"""Deduplication: exact, URL and MinHash near-duplicate detection (DESIGN §7)."""
