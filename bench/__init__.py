"""Benchmarks: each prints ratios against a baseline run side by side (DESIGN §9)."""
