"""The `dedup` stage (`stage.py`): its params, the payloads and work of its phases, and the
index of earlier runs."""
