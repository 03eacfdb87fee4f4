"""The bundled minimal GPT trainer (PyTorch); it reads the token shards `corpus shard` writes."""
