"""Execution: the stage runner on Ray, pipeline configs, exactly-once resume, stats, the CLI."""
