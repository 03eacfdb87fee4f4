"""`corpus export-hf`: a checkpoint as a Hugging Face GPT-2 folder (config, safetensors weights
and, when the shards name one, the tokenizer), loadable by `GPT2LMHeadModel.from_pretrained`.

Our linear layers store weights as (out, in); GPT-2's Conv1D stores (in, out), so those four
matrices per block are transposed. The padded rows of the embedding are dropped.
"""

from __future__ import annotations

from pathlib import Path

import torch

from corpus.errors import CorpusError
from corpus.tokenizer import EOT
from trainer.checkpoint import load_checkpoint

TRANSPOSED = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


def _quiet() -> None:
    from transformers.utils import logging

    logging.disable_progress_bar()
    logging.set_verbosity_error()


def export_hf(checkpoint: str, out: str | Path) -> Path:
    from transformers import GPT2Config, GPT2LMHeadModel

    _quiet()
    state = load_checkpoint(checkpoint)
    mc = state["model_config"]
    if not mc.get("bias", True):
        raise CorpusError("GPT-2 folders need biases; this model was trained with bias: false")
    eot = state.get("tokenizer", {}).get("eot_id", mc["vocab_size"] - 1)
    config = GPT2Config(
        vocab_size=mc["vocab_size"],
        n_positions=mc["block_size"],
        n_embd=mc["n_embd"],
        n_layer=mc["n_layer"],
        n_head=mc["n_head"],
        activation_function="gelu_new",
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        layer_norm_epsilon=1e-5,
        bos_token_id=eot,
        eos_token_id=eot,
        tie_word_embeddings=True,
    )
    ours = state["model"]
    weights = {}
    for key, tensor in ours.items():
        if key == "lm_head.weight":
            continue  # tied to the token embedding
        if key == "transformer.wte.weight":
            tensor = tensor[: mc["vocab_size"]]
        if key.endswith(TRANSPOSED):
            tensor = tensor.t()
        weights[key] = tensor.contiguous()
    model = GPT2LMHeadModel(config)
    missing, unexpected = model.load_state_dict(weights, strict=False)
    missing = [k for k in missing if k != "lm_head.weight" and not k.endswith(".attn.bias")]
    if missing or unexpected:
        raise CorpusError(f"weights do not map onto GPT-2: missing {missing}, extra {unexpected}")
    model.tie_weights()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer = state.get("tokenizer", {}).get("path")
    if tokenizer and Path(tokenizer).is_file():
        from transformers import PreTrainedTokenizerFast

        tok = PreTrainedTokenizerFast(tokenizer_file=tokenizer, eos_token=EOT, bos_token=EOT)
        tok.save_pretrained(out)
    return out


def hf_logits(folder: str | Path, ids: torch.Tensor) -> torch.Tensor:
    from transformers import GPT2LMHeadModel

    _quiet()
    model = GPT2LMHeadModel.from_pretrained(folder)
    model.eval()
    with torch.no_grad():
        return model(ids).logits
