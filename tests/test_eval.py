"""Evaluation in loss and bits per byte: the bytes-per-token table agrees with the tokenizer's own
decoding, bpb of held-out texts matches a hand computation, the val windows are fixed, seeded and
spread over the split, a text too short for one window is evaluated on what it has (and the run
says so), every rank takes part in every forward, and bad input is one line."""

from __future__ import annotations

import argparse
import json
import math
import pydoc_data.topics

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml

from corpus.shards import open_shard, write_shard
from corpus.tokenizer import load_tokenizer
from tests.commands import ROOT
from tests.datasets import write_dataset
from tests.runs import run_shards, run_tokenizer
from trainer.config import load_config
from trainer.data import TokenStream, find_shards
from trainer.evaluation import EvalSet, token_bytes, val_set
from trainer.model import GPT
from trainer.train import Trainer, main

TOPICS = [text for _, text in sorted(pydoc_data.topics.topics.items())]  # Python's help pages


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """Shards of Python's help topics (typographic quotes and dashes included: several bytes a
    character), with a byte-level BPE of 512 ids trained on them."""
    root = tmp_path_factory.mktemp("pydoc")
    docs = [{"id": f"topic-{i}", "text": t} for i, t in enumerate(TOPICS)]
    write_dataset(root / "docs", docs)
    run_tokenizer(root / "docs", root / "tok", vocab_size=512)
    run_shards(root / "docs", root / "shards", root / "tok" / "tokenizer.json", val_tokens=20_000)
    return root / "shards"


def tokenizer(shards):
    return load_tokenizer(json.loads((shards / "shards.json").read_text())["tokenizer"]["path"])


def config(tmp_path, **overrides):
    doc = yaml.safe_load((ROOT / "configs" / "trainer" / "tiny.yaml").read_text())
    doc["model"].update(n_layer=2, n_head=2, n_embd=64, vocab_size=512)
    doc.update(batch_size=4, seq_len=64, total_batch_tokens=256, eval_interval=1,
               eval_tokens=2048, log_interval=1, checkpoint_interval=0, **overrides)  # fmt: skip
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_bytes_per_token_are_what_the_tokenizer_decodes_to(shards):
    tok, eot = tokenizer(shards)
    table = token_bytes(tok)
    assert table[eot] == 0 and table.min() == 0 and table.max() > 4
    for text in TOPICS:
        ids = tok.encode(text).ids
        assert tok.decode(ids) == text
        assert table[ids].sum() == len(text.encode("utf-8"))
    # the whole val split: documents after <|endoftext|>, which decodes to nothing
    val = np.concatenate([np.asarray(open_shard(f)) for f in find_shards(shards, "val")])
    assert (val == eot).sum() > 3
    assert table[val].sum() == len(tok.decode(val.tolist()).encode("utf-8"))


def test_bits_per_byte_of_eval_texts_match_a_hand_computation(tmp_path, shards, capsys):
    tok, eot = tokenizer(shards)
    short = next(t for t in TOPICS if "\u2019" in t or "\u201c" in t)[:150]  # multi-byte quotes
    (tmp_path / "short.txt").write_text(short)
    long_docs = TOPICS[10:14]
    (tmp_path / "long.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in long_docs))
    cfg_path = config(tmp_path)
    out = tmp_path / "run"
    code = main(["--shards", str(shards), "--config", str(cfg_path), "--max-steps", "1",
                 "--out", str(out), "--eval-text", str(tmp_path / "short.txt"),
                 str(tmp_path / "long.jsonl")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    n_short = 1 + len(tok.encode(short).ids)
    assert (
        f"short.txt: {n_short} tokens, fewer than one window (65): evaluating on 1 window of "
        f"{n_short - 1}" in err.splitlines()
    )
    (row,) = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    # by hand, on the untrained model as the trainer seeds it
    cfg = load_config(cfg_path)
    torch.manual_seed(cfg.seed)
    model = GPT(cfg.model).eval()

    def hand(tokens: list[int], rows: int, length: int) -> tuple[float, float]:
        x = torch.tensor(tokens[: rows * length]).view(rows, length)
        y = torch.tensor(tokens[1 : rows * length + 1]).view(rows, length)
        with torch.no_grad():
            logits, _ = model(x)
        nats = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum").item()
        nbytes = len(tok.decode(y.flatten().tolist()).encode("utf-8"))
        return nats / y.numel(), nats / math.log(2) / nbytes

    tokens = [eot, *tok.encode(short).ids]
    assert tok.decode(tokens[1:]) == short
    loss, bpb = hand(tokens, 1, len(tokens) - 1)
    assert row["eval"]["short.txt"] == pytest.approx({"loss": loss, "bpb": bpb}, abs=1e-5)
    tokens = [i for t in long_docs for i in (eot, *tok.encode(t).ids)]
    windows = (len(tokens) - 1) // 64
    assert windows <= 2048 // 64  # all of them
    loss, bpb = hand(tokens, windows, 64)
    assert row["eval"]["long.jsonl"] == pytest.approx({"loss": loss, "bpb": bpb}, abs=1e-5)
    assert 0 < row["val_bpb"] < row["val_loss"]  # several bytes a token
    assert f"long.jsonl {loss:.4f} ({bpb:.4f} bpb)" in err


def test_val_windows_are_fixed_seeded_and_spread_over_the_split(tmp_path, shards):
    files = find_shards(shards, "val")
    ev, note = val_set(files, 4, 64, 1, 2048, seed=7)
    assert note is None and ev.length == 64 and len(ev.starts) == 32
    again, _ = val_set(files, 2, 64, 2, 2048, seed=7)  # the same under two ranks
    assert np.array_equal(ev.starts, again.starts)
    assert not np.array_equal(ev.starts, val_set(files, 4, 64, 1, 2048, seed=8)[0].starts)
    # one window in each 32nd of the split's windows
    windows = (ev.stream.total - 1) // 64
    assert windows > 5 * 32
    runs = ev.starts // 64 * 32 // windows
    assert runs.tolist() == list(range(32))
    # two evaluations of the same model give the same figures
    args = argparse.Namespace(shards=str(shards), out=str(tmp_path / "run"), resume=False,
                              device="cpu", eval_text=None, tokenizer=None)  # fmt: skip
    cfg = load_config(config(tmp_path))
    trainer = Trainer(args, cfg)
    expected = val_set(files, 4, 64, 1, 2048, seed=cfg.seed)[0].starts
    assert np.array_equal(trainer.val.starts, expected)
    first = trainer.evaluate(trainer.val)
    assert trainer.evaluate(trainer.val) == first and set(first) == {"loss", "bpb"}


def test_every_rank_takes_part_in_every_forward_and_each_window_counts_once():
    stream = TokenStream([np.arange(1000, dtype=np.int64)])
    for count in (1, 5, 8, 9):
        ev = EvalSet("t", stream, np.arange(count, dtype=np.int64) * 10, 10)
        ranks = [list(ev.batches(r, 3, 2)) for r in range(3)]
        assert len({len(batches) for batches in ranks}) == 1  # as many forwards on each rank
        real = sorted(int(s) for batches in ranks for x, _, ok in batches if ok for s in x[:, 0])
        assert real == list(range(0, count * 10, 10))


@pytest.mark.parametrize(
    "setup, words",
    [
        ("missing", "--eval-text {tmp}/nope.txt: cannot read (No such file or directory)"),
        ("bad_jsonl", 'bad.jsonl: line 2 is not a JSON object with a "text" string'),
        ("empty", "--eval-text {tmp}/empty.txt: no text in it"),
        ("other_tokenizer", "not the tokenizer the shards were made with"),
        ("no_tokenizer", "--eval-text needs the tokenizer: the shards name no tokenizer"),
    ],
)
def test_bad_eval_input_is_one_line(tmp_path, shards, capsys, setup, words):
    folder, tokenizer_args, texts = shards, [], []
    if setup == "missing":
        texts = [tmp_path / "nope.txt"]
    elif setup == "bad_jsonl":
        texts = [tmp_path / "bad.jsonl"]
        texts[0].write_text('{"text": "fine"}\n["not", "an", "object"]\n')
    elif setup == "empty":
        texts = [tmp_path / "empty.txt"]
        texts[0].write_text("")
    elif setup == "other_tokenizer":
        tok, _ = tokenizer(shards)
        tok.add_tokens(["an extra id"])
        tok.save(str(tmp_path / "other.json"))
        tokenizer_args = ["--tokenizer", str(tmp_path / "other.json")]
    elif setup == "no_tokenizer":  # llm.c's layout: shards without shards.json
        folder = tmp_path / "llmc"
        folder.mkdir()
        for split in ("train", "val"):
            tokens = np.concatenate([np.asarray(open_shard(f)) for f in find_shards(shards, split)])
            write_shard(folder / f"x_{split}_000000.bin", tokens)
        texts = [tmp_path / "t.txt"]
        texts[0].write_text(TOPICS[0])
    args = ["--shards", str(folder), "--config", str(config(tmp_path)), "--out",
            str(tmp_path / "run"), *tokenizer_args]  # fmt: skip
    if texts:
        args += ["--eval-text", *map(str, texts)]
    assert main(args) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and words.format(tmp=tmp_path) in lines[0], lines
