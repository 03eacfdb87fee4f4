"""The GPT's fast paths against plain references: with its switches off it is GPT-2 written out
by hand; the chunked loss is the full-vocabulary cross-entropy, gradients included; document
masking gives each document the logits it has alone; gradient checkpointing changes nothing but
memory; and `train` takes both switches from its config."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml

import trainer.model as model_module
from corpus.shards import write_shard
from tests.commands import ROOT
from trainer.config import TrainConfig, TrainConfigError
from trainer.model import (
    GPT,
    CausalSelfAttention,
    ChunkedCrossEntropy,
    GPTConfig,
    document_mask,
    documents,
)
from trainer.train import main as train_main

EOT = 299  # the last id of a 300-token vocabulary, as GPT-2's 50256 is
SMALL = GPTConfig(block_size=64, vocab_size=300, n_layer=2, n_head=2, n_embd=32)


def small_gpt(dropout: float = 0.0, **kwargs) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(**{**SMALL.to_dict(), "dropout": dropout}), **kwargs)


def reference_logits(model: GPT, idx: torch.Tensor) -> torch.Tensor:
    """GPT-2 written out plainly: attention as an explicit masked softmax, logits over the whole
    padded vocabulary at once."""
    c, tr = model.config, model.transformer
    B, T = idx.shape
    hs = c.n_embd // c.n_head
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    x = tr.wte.weight[idx] + tr.wpe.weight[:T]
    for block in tr.h:
        h = F.layer_norm(x, (c.n_embd,), block.ln_1.weight, block.ln_1.bias)
        q, k, v = (h @ block.attn.c_attn.weight.T + block.attn.c_attn.bias).split(c.n_embd, -1)
        q, k, v = (t.view(B, T, c.n_head, hs).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1) / math.sqrt(hs)).masked_fill(~causal, float("-inf"))
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, c.n_embd)
        x = x + y @ block.attn.c_proj.weight.T + block.attn.c_proj.bias
        h = F.layer_norm(x, (c.n_embd,), block.ln_2.weight, block.ln_2.bias)
        h = F.gelu(h @ block.mlp.c_fc.weight.T + block.mlp.c_fc.bias, approximate="tanh")
        x = x + h @ block.mlp.c_proj.weight.T + block.mlp.c_proj.bias
    x = F.layer_norm(x, (c.n_embd,), tr.ln_f.weight, tr.ln_f.bias)
    return x @ tr.wte.weight.T


def grads(model: GPT) -> dict[str, torch.Tensor]:
    out = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    return out


def test_with_its_switches_off_the_model_is_plain_gpt2_and_its_loss_the_full_cross_entropy(
    monkeypatch,
):
    monkeypatch.setattr(model_module, "LOSS_CHUNK", 16)  # 75 rows: 4 chunks and a ragged fifth
    model = small_gpt()
    gen = torch.Generator().manual_seed(1)
    idx, targets = torch.randint(0, 300, (2, 3, 25), generator=gen)
    reference = reference_logits(model, idx)
    ref_loss = F.cross_entropy(reference.view(-1, reference.size(-1)), targets.view(-1))
    ref_loss.backward()
    expected = grads(model)
    logits, none = model(idx)
    assert none is None
    assert (logits - reference).abs().max().item() < 1e-5
    none, loss = model(idx, targets)
    assert none is None  # the whole batch's logits are never made
    assert abs(loss.item() - ref_loss.item()) < 1e-5
    loss.backward()
    for name, g in grads(model).items():
        torch.testing.assert_close(g, expected[name], rtol=1e-5, atol=1e-7, msg=name)


def test_chunked_cross_entropy_equals_the_full_vocabulary_one_and_saves_no_logits():
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(75, 16, generator=gen, requires_grad=True)
    w = torch.randn(50, 16, generator=gen, requires_grad=True)
    targets = torch.randint(0, 50, (75,), generator=gen)
    F.cross_entropy(x @ w.T, targets).backward()
    expected = x.grad.clone(), w.grad.clone()
    x.grad = w.grad = None
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(
        lambda t: saved.append(t.shape) or t, lambda t: t
    ):
        loss = ChunkedCrossEntropy.apply(x, w, targets, 7, True)
    assert all(shape.numel() < 75 * 50 for shape in saved)  # no (rows, vocab) logits kept
    loss.backward()
    assert abs(loss.item() - F.cross_entropy(x @ w.T, targets).item()) < 1e-5
    torch.testing.assert_close(x.grad, expected[0], rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(w.grad, expected[1], rtol=1e-5, atol=1e-7)
    with torch.no_grad():
        assert abs(ChunkedCrossEntropy.apply(x, w, targets, 7, False).item() - loss.item()) < 1e-6


def test_documents_start_at_each_end_of_text_and_positions_restart_there():
    idx = torch.tensor([[5, 1, EOT, 3, 4, EOT, 6], [EOT, 1, 2, 3, EOT, EOT, 6]])
    doc, pos = documents(idx, EOT)
    assert doc.tolist() == [[0, 0, 1, 1, 1, 2, 2], [1, 1, 1, 1, 2, 3, 3]]
    assert pos.tolist() == [[0, 1, 0, 1, 2, 0, 1], [0, 1, 2, 3, 0, 0, 1]]


def test_document_masking_gives_each_document_the_logits_it_has_alone():
    gen = torch.Generator().manual_seed(3)

    def doc(n: int) -> torch.Tensor:
        return torch.cat([torch.tensor([EOT]), torch.randint(0, EOT, (n - 1,), generator=gen)])

    a, b, c = doc(9), doc(14), doc(7)
    tail = torch.randint(0, EOT, (7,), generator=gen)  # a document cut by the window's start
    rows = [[a, b, c], [c, a, b], [tail, b, a]]
    masked = small_gpt(doc_eot=EOT).eval()
    plain = small_gpt().eval()
    with torch.no_grad():
        logits, _ = masked(torch.stack([torch.cat(r) for r in rows]))  # (3, 30, V)
        unmasked, _ = plain(torch.stack([torch.cat(r) for r in rows]))
        for row, docs in enumerate(rows):
            start = 0
            for d in docs:
                alone, _ = plain(d[None])
                got = logits[row, start : start + len(d)]
                assert (got - alone[0]).abs().max().item() < 1e-5, (row, start)
                start += len(d)
    assert (logits - unmasked).abs().max().item() > 1e-2  # the plain model does see across


@pytest.mark.skipif(model_module.flex_attention is None, reason="torch before 2.5: no flex")
@pytest.mark.filterwarnings("ignore:flex_attention called without torch.compile")
def test_the_flex_block_mask_attends_as_the_boolean_mask():
    # the CUDA path's mask, run here on flex attention's unfused CPU implementation; 256
    # tokens make two blocks of 128, so whole blocks are skipped as well as parts masked
    torch.manual_seed(4)
    attn = CausalSelfAttention(SMALL).eval()
    idx = torch.randint(0, EOT, (2, 256))
    idx[0, ::37] = EOT
    idx[1, [5, 130, 131, 200]] = EOT
    doc, _ = documents(idx, EOT)
    x = torch.randn(2, 256, SMALL.n_embd)
    with torch.no_grad():
        flex = attn(x, document_mask(doc, flex=True))
        boolean = attn(x, document_mask(doc, flex=False))
    assert (flex - boolean).abs().max().item() < 1e-5


def test_gradient_checkpointing_gives_the_same_loss_and_gradients():
    # dropout on: the recomputed forward must draw the same masks
    gen = torch.Generator().manual_seed(5)
    idx, targets = torch.randint(0, 300, (2, 3, 40), generator=gen)
    idx[:, ::9] = EOT
    results = []
    for checkpointed in (False, True):
        model = small_gpt(dropout=0.1, doc_eot=EOT, grad_checkpointing=checkpointed).train()
        calls = []
        for block in model.transformer.h:
            block.register_forward_pre_hook(lambda *_, calls=calls: calls.append(1))
        torch.manual_seed(6)
        _, loss = model(idx, targets)
        loss.backward()
        results.append((loss.item(), grads(model), len(calls)))
    (plain_loss, plain_grads, plain_calls), (loss, checkpoint_grads, calls) = results
    assert (plain_calls, calls) == (2, 4)  # each block run again in backward
    assert abs(loss - plain_loss) < 1e-6
    for name, g in checkpoint_grads.items():
        torch.testing.assert_close(g, plain_grads[name], rtol=1e-6, atol=1e-8, msg=name)


def test_a_switch_that_is_not_a_bool_is_one_line():
    with pytest.raises(TrainConfigError, match=r"^c.yaml.doc_masking must be bool, got 'yes'$"):
        TrainConfig.from_dict({"doc_masking": "yes"}, "c.yaml")


def test_train_takes_document_masking_and_gradient_checkpointing_from_its_config(tmp_path, capsys):
    # llm.c-style shards (no shards.json): <|endoftext|> is the vocabulary's last id
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 999, 6000).astype(np.uint16)
    tokens[::10] = 999
    write_shard(tmp_path / "x_train_0.bin", tokens)
    config = yaml.safe_load((ROOT / "configs" / "trainer" / "tiny.yaml").read_text())
    config["model"].update(vocab_size=1000, n_layer=2, n_embd=64)
    config.update(max_steps=2, eval_interval=0, log_interval=1, checkpoint_interval=0)

    def first_loss(name: str, **switches) -> float:
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump({**config, **switches}))
        out = tmp_path / name
        argv = ["--shards", str(tmp_path), "--config", str(path), "--out", str(out)]
        assert train_main([*argv, "--device", "cpu"]) == 0, capsys.readouterr().err
        return json.loads((out / "metrics.jsonl").read_text().splitlines()[0])["loss"]

    plain = first_loss("plain")
    masked = first_loss("masked", doc_masking=True)
    both = first_loss("both", doc_masking=True, grad_checkpointing=True)
    assert abs(masked - plain) > 1e-4  # the masks changed what attention saw
    assert abs(both - masked) < 1e-5
