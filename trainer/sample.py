"""`corpus sample`: continue a prompt with a trained checkpoint and the run's tokenizer."""

from __future__ import annotations

import torch

from corpus.errors import CorpusError
from corpus.tokenizer import load_tokenizer
from trainer.checkpoint import load_checkpoint, load_model


def sample(
    checkpoint: str,
    prompt: str,
    max_new_tokens: int = 100,
    temperature: float = 0.8,
    top_k: int | None = 50,
    seed: int = 0,
    tokenizer: str | None = None,
) -> str:
    """The prompt and its continuation, decoded with the tokenizer the shards were made with
    (or `tokenizer`, for shards that do not name one)."""
    state = load_checkpoint(checkpoint)
    path = tokenizer or state.get("tokenizer", {}).get("path")
    if not path:
        raise CorpusError(
            "the checkpoint's shards name no tokenizer (llm.c's shards do not); give --tokenizer"
        )
    tok, eot = load_tokenizer(path)
    model = load_model(state)
    ids = [eot] + tok.encode(prompt).ids  # documents start after <|endoftext|> in training
    idx = torch.tensor([ids], dtype=torch.long)
    generator = torch.Generator().manual_seed(seed)
    out = model.generate(idx, max_new_tokens, temperature, top_k, generator)[0, 1:].tolist()
    if eot in out[len(ids) - 1 :]:  # stop at the end of the document
        out = out[: len(ids) - 1 + out[len(ids) - 1 :].index(eot)]
    return tok.decode(out, skip_special_tokens=False)
