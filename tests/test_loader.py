"""The permuted loader: every window once per epoch over all ranks, epochs in different orders,
a resumed loader (on the same or another number of ranks) reads exactly the batches of one that
never stopped; the contiguous and random modes stay selectable, and a mismatch is one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from corpus.errors import CorpusError
from corpus.shards import write_shard
from trainer.config import TrainConfig, TrainConfigError
from trainer.data import ShardLoader, find_shards

T = 16


@pytest.fixture
def files(tmp_path):
    """Two shards of a stream whose token i is i (so a window's first token names it), with a
    tail of 8 tokens that fills no window."""
    tokens = np.arange(10_009, dtype=np.uint16)
    write_shard(tmp_path / "a_train_0.bin", tokens[:4_000])
    write_shard(tmp_path / "a_train_1.bin", tokens[4_000:])
    return find_shards(tmp_path, "train")


def window_ids(x: torch.Tensor) -> list[int]:
    return (x[:, 0] // T).tolist()


def global_batches(loaders: list[ShardLoader], count: int) -> list[list[int]]:
    """The window ids of `count` global batches, rank 0's windows first."""
    return [
        [w for loader in loaders for w in window_ids(loader.next_batch()[0])] for _ in range(count)
    ]


def test_every_window_is_read_once_per_epoch_across_two_ranks(files):
    ranks = [ShardLoader(files, 3, T, rank=r, world_size=2, seed=5) for r in range(2)]
    windows = ranks[0].windows
    assert windows == 625  # 10,008 targets: the last 8 tokens fill no window
    assert ranks[0].permutation(0).dtype == np.int32  # one array, no Python object per window
    seen = [w for batch in global_batches(ranks, 400) for w in batch]  # 2,400 windows
    epochs = [seen[e * windows : (e + 1) * windows] for e in range(len(seen) // windows)]
    assert len(epochs) == 3
    for epoch in epochs:
        assert sorted(epoch) == list(range(windows))  # once each, none skipped at the end
    assert epochs[0] != epochs[1] != epochs[2]  # a new order each epoch
    assert epochs[0][:50] != list(range(50))  # and not the stream's order
    # the ranks never read the same window in a batch, and one rank of the global batch size
    # reads the same windows
    one = ShardLoader(files, 6, T, seed=5)
    assert [window_ids(one.next_batch()[0]) for _ in range(400)] == global_batches(
        [ShardLoader(files, 3, T, rank=r, world_size=2, seed=5) for r in range(2)], 400
    )
    # targets are the inputs shifted by one, across the shard boundary too
    for loader in ranks:
        x, y = loader.next_batch()
        assert torch.equal(x[:, 1:], y[:, :-1]) and torch.equal(y[:, -1], x[:, -1] + 1)


def test_resume_mid_epoch_reads_exactly_the_batches_of_an_uninterrupted_run(files):
    straight = global_batches([ShardLoader(files, 4, T, seed=1)], 400)  # 2.5 epochs
    for stop in (37, 155, 156, 157):  # mid-epoch, and either side of the first epoch's end
        first = ShardLoader(files, 4, T, seed=1)
        global_batches([first], stop)
        state = first.state_dict()
        resumed = ShardLoader(files, 4, T, seed=1)
        resumed.load_state_dict(state)
        assert global_batches([resumed], 400 - stop) == straight[stop:], stop
    # under two ranks of half the batch, then back to one: the same windows in the same order
    flat = [w for batch in straight for w in batch]
    two = [ShardLoader(files, 2, T, rank=r, world_size=2, seed=1) for r in range(2)]
    for loader in two:
        loader.load_state_dict(state)  # one rank's, at batch 157
    assert [w for b in global_batches(two, 100) for w in b] == flat[157 * 4 : 257 * 4]
    one = ShardLoader(files, 4, T, seed=1)
    one.load_state_dict(two[1].state_dict())
    assert one.where() == f"window {257 * 4 - 625} of epoch 1"
    assert global_batches([one], 143) == straight[257:]


def test_the_seed_picks_the_order(files):
    a, b = ShardLoader(files, 4, T, seed=1), ShardLoader(files, 4, T, seed=2)
    assert not np.array_equal(a.permutation(0), b.permutation(0))
    assert np.array_equal(a.permutation(3), ShardLoader(files, 4, T, seed=1).permutation(3))


def test_contiguous_and_random_modes_stay_selectable(files):
    contiguous = ShardLoader(files, 4, T, mode="contiguous")
    x, _ = contiguous.next_batch()
    assert torch.equal(x.flatten(), torch.arange(64))  # the stream's first 64 tokens in order
    assert contiguous.where() == "token 64 of epoch 0"
    rand = ShardLoader(files, 4, T, mode="random", seed=3)
    x, y = rand.next_batch()
    assert torch.equal(x[:, 1:], y[:, :-1])
    assert torch.equal(x, ShardLoader(files, 4, T, mode="random", seed=3).next_batch()[0])


def test_a_checkpoint_of_another_loader_mode_or_window_is_one_line(files):
    contiguous = ShardLoader(files, 4, T, mode="contiguous")
    contiguous.next_batch()
    state = contiguous.state_dict()
    with pytest.raises(CorpusError, match="read contiguous windows, this config says loader: "
                       "permuted; set loader: contiguous to resume"):  # fmt: skip
        ShardLoader(files, 4, T).load_state_dict(state)
    old = {k: v for k, v in state.items() if k not in ("mode", "seq_len")}  # before the modes
    contiguous.load_state_dict(old)
    permuted = ShardLoader(files, 4, T)
    permuted.next_batch()
    with pytest.raises(CorpusError, match="windows of 16 tokens, this config has seq_len 8"):
        ShardLoader(files, 4, 8).load_state_dict(permuted.state_dict())
    with pytest.raises(
        TrainConfigError, match="loader must be one of permuted, contiguous, random, got 'shuffled'"
    ):
        TrainConfig.from_dict({"loader": "shuffled"})
