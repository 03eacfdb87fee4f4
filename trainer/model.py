"""A GPT-2 language model, small enough to read top to bottom.

Token and position embeddings feed n_layer pre-LayerNorm transformer blocks (causal
self-attention, then a 4x MLP with tanh-GELU), a final LayerNorm, and a head tied to the token
embedding. The vocabulary is padded to a multiple of 64 (faster matmuls); the padded ids are
never targets, so they learn to score low. Attention is `scaled_dot_product_attention`, which
picks flash attention on CUDA. Weights are initialized as GPT-2 was: N(0, 0.02), with the
residual projections scaled by 1/sqrt(2 * n_layer).

Three switches, all off by default. Document masking (`doc_eot`): attention does not cross
`<|endoftext|>`, and positions restart at each document (flex attention on CUDA, a boolean SDPA
mask elsewhere). Gradient checkpointing: each block's activations are recomputed in backward.
And always: the training loss is taken a chunk of rows at a time, so the fp32 logits of the
whole vocabulary are never held for the whole batch at once.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

try:  # flex attention came with torch 2.5
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention
except ImportError:
    create_block_mask = flex_attention = None

LOSS_CHUNK = 1024  # rows of logits held in fp32 at once: 1024 x 50304 x 4 bytes = 206 MB


@dataclass
class GPTConfig:
    block_size: int = 1024  # the longest context
    vocab_size: int = 50257  # the tokenizer's ids; the embedding is padded past it
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    dropout: float = 0.0
    bias: bool = True  # biases in the linear layers and LayerNorms, as GPT-2

    @property
    def padded_vocab_size(self) -> int:
        return (self.vocab_size + 63) // 64 * 64

    def to_dict(self) -> dict:
        return asdict(self)


def documents(idx: torch.Tensor, eot: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each token's document number (B, T) and position in its document (B, T). Shards put
    `eot` before every document, so an `eot` opens the document that follows it."""
    t = torch.arange(idx.size(1), device=idx.device)  # (T,)
    starts = idx == eot  # (B, T)
    doc = starts.cumsum(dim=1)  # (B, T)
    first = torch.where(starts, t, 0).cummax(dim=1).values  # (B, T) where its document starts
    return doc, t - first


def document_mask(doc: torch.Tensor, flex: bool):
    """Which tokens each token attends to: the earlier ones of its own document (itself too).
    A flex-attention BlockMask when `flex`, else a boolean SDPA mask (B, 1, T, T)."""
    B, T = doc.shape
    if flex:

        def same_document_causal(b, h, q, k):
            return (k <= q) & (doc[b, q] == doc[b, k])

        return create_block_mask(same_document_causal, B, None, T, T, device=doc.device)
    causal = torch.ones(T, T, dtype=torch.bool, device=doc.device).tril()  # (T, T)
    return (causal & (doc[:, :, None] == doc[:, None, :]))[:, None]  # (B, 1, T, T)


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        assert config.n_embd % config.n_head == 0, "n_embd must be a multiple of n_head"
        self.n_head = config.n_head
        self.dropout = config.dropout
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # q, k, v
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.c_proj.residual = True  # scaled at init
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, mask=None) -> torch.Tensor:
        """`mask`: None (causal), a boolean (B, 1, T, T) tensor, or a flex-attention BlockMask."""
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        # (B, T, C) -> (B, heads, T, head size)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        dropout = self.dropout if self.training else 0.0
        if mask is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=dropout)
        elif isinstance(mask, torch.Tensor):
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
        else:
            # fused only when compiled: eager flex builds the whole (B, heads, T, T) score matrix
            flex = _compiled_flex() if q.is_cuda else flex_attention
            y = flex(q, k, v, block_mask=mask)  # (no dropout: the mask says when)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


@functools.cache
def _compiled_flex():
    """flex_attention compiled once, also for the eager model (evaluation, `compile: false`)."""
    return torch.compile(flex_attention, dynamic=False)


class MLP(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.c_proj.residual = True
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate="tanh")))


class Block(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, mask=None) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), mask)
        return x + self.mlp(self.ln_2(x))


class ChunkedCrossEntropy(torch.autograd.Function):
    """The mean cross-entropy of the logits `x @ weight.T`, `chunk` rows at a time: one chunk's
    logits exist at once, in fp32, and their gradient is taken there and then, so that backward
    holds no logits at all, and costs no more matmuls than the plain way."""

    @staticmethod
    @torch.amp.custom_fwd(device_type="cuda")
    def forward(ctx, x, weight, targets, chunk: int, want_grad: bool):
        # x (N, C), weight (V, C), targets (N,); want_grad: False under no_grad (evaluation),
        # which needs_input_grad does not tell inside forward
        loss = torch.zeros((), dtype=torch.float32, device=x.device)
        grad_x = torch.zeros_like(x) if want_grad else None  # (N, C)
        grad_w = torch.zeros_like(weight, dtype=torch.float32) if want_grad else None  # (V, C)
        for i in range(0, x.size(0), chunk):
            xc, tc = x[i : i + chunk], targets[i : i + chunk]  # (n, C), (n,)
            logits = (xc @ weight.t()).float()  # (n, V)
            lse = logits.logsumexp(dim=1)  # (n,)
            loss += (lse - logits.gather(1, tc[:, None]).squeeze(1)).sum()
            if want_grad:
                # d loss / d logits = softmax - one-hot of the target (the mean's 1/N in backward)
                grad = logits.sub_(lse[:, None]).exp_()  # (n, V)
                grad[torch.arange(len(tc), device=tc.device), tc] -= 1
                grad = grad.to(weight.dtype)
                grad_x[i : i + chunk] = grad @ weight
                grad_w += grad.t() @ xc
        if want_grad:
            ctx.save_for_backward(grad_x, grad_w.to(weight.dtype))
        return loss / x.size(0)

    @staticmethod
    @torch.amp.custom_bwd(device_type="cuda")
    def backward(ctx, grad_loss):
        grad_x, grad_w = ctx.saved_tensors
        scale = grad_loss / grad_x.size(0)
        return grad_x * scale, grad_w * scale, None, None, None


class GPT(nn.Module):
    def __init__(
        self, config: GPTConfig, doc_eot: int | None = None, grad_checkpointing: bool = False
    ):
        """`doc_eot`: the `<|endoftext|>` id, for document masking (None: plain causal);
        `grad_checkpointing`: recompute each block in backward (less memory, a third more work)."""
        super().__init__()
        self.config = config
        self.doc_eot = doc_eot
        self.grad_checkpointing = grad_checkpointing
        self.transformer = nn.ModuleDict(
            {
                "wte": nn.Embedding(config.padded_vocab_size, config.n_embd),
                "wpe": nn.Embedding(config.block_size, config.n_embd),
                "drop": nn.Dropout(config.dropout),
                "h": nn.ModuleList(Block(config) for _ in range(config.n_layer)),
                "ln_f": nn.LayerNorm(config.n_embd, bias=config.bias),
            }
        )
        self.lm_head = nn.Linear(config.n_embd, config.padded_vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied
        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            std = 0.02
            if getattr(module, "residual", False):
                std /= math.sqrt(2 * self.config.n_layer)
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_params(self, non_embedding: bool = True) -> int:
        """Parameters, without the position embedding by default (as GPT-2's counts)."""
        n = sum(p.numel() for p in self.parameters())
        return n - self.transformer.wpe.weight.numel() if non_embedding else n

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """(logits (B, T, padded vocab), None) without `targets`; with them (None, the mean
        cross-entropy loss), the logits never held whole."""
        B, T = idx.shape
        if self.config.block_size < T:
            raise ValueError(f"sequence of {T} tokens, longer than block_size")
        pos, mask = torch.arange(T, device=idx.device), None  # (T,)
        if self.doc_eot is not None:
            doc, pos = documents(idx, self.doc_eot)  # (B, T) each
            dropout = self.training and self.config.dropout > 0  # which flex attention lacks
            mask = document_mask(
                doc, flex=idx.is_cuda and flex_attention is not None and not dropout
            )
        x = self.transformer.wte(idx) + self.transformer.wpe(pos)  # (B, T, C)
        x = self.transformer.drop(x)
        for block in self.transformer.h:
            if self.grad_checkpointing and torch.is_grad_enabled():
                x = checkpoint(block, x, mask, use_reentrant=False)
            else:
                x = block(x, mask)
        x = self.transformer.ln_f(x)  # (B, T, C)
        if targets is None:
            return self.lm_head(x), None
        want_grad = torch.is_grad_enabled()
        loss = ChunkedCrossEntropy.apply(
            x.view(B * T, -1), self.lm_head.weight, targets.reshape(-1), LOSS_CHUNK, want_grad
        )
        return None, loss

    def flops_per_token(self, seq_len: int) -> float:
        """Training FLOPs per token (forward and backward), as in the PaLM paper's appendix:
        6 per parameter plus attention's 12 * layers * width * context."""
        c = self.config
        return 6 * self.num_params() + 12 * c.n_layer * c.n_embd * seq_len

    def optimizer(self, lr: float, weight_decay: float, betas: tuple[float, float], fused: bool):
        """AdamW, with weight decay on matrices and embeddings only (not biases or norms)."""
        params = [p for p in self.parameters() if p.requires_grad]
        decay = [p for p in params if p.dim() >= 2]
        no_decay = [p for p in params if p.dim() < 2]
        groups = [
            {"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]
        return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=1e-8, fused=fused)

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Continue `idx` (B, T) by sampling `max_new_tokens` tokens of the real vocabulary."""
        for _ in range(max_new_tokens):
            context = idx[:, -self.config.block_size :]
            logits, _ = self(context)
            logits = logits[:, -1, : self.config.vocab_size].float()
            if temperature <= 0:
                nxt = logits.argmax(dim=-1, keepdim=True)
            else:
                logits = logits / temperature
                if top_k is not None:
                    kth = torch.topk(logits, min(top_k, logits.size(-1))).values[:, [-1]]
                    logits = logits.masked_fill(logits < kth, float("-inf"))
                probs = F.softmax(logits, dim=-1)
                nxt = torch.multinomial(probs, num_samples=1, generator=generator)
            idx = torch.cat([idx, nxt], dim=1)
        return idx
