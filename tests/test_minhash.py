"""MinHash signatures: estimated Jaccard tracks the true Jaccard of the shingle sets as closely
as datasketch's MinHash with the same number of permutations."""

from __future__ import annotations

import gzip
import json
import random

import numpy as np
import pytest
from datasketch import MinHash

from filters.dedup.minhash import estimated_jaccard, shingle_hashes, signatures
from samples.shared_data import DOLMA_FILE, SHARED_DATA, real_documents


def edited(text: str, rate: float, rng: random.Random) -> str:
    """`text` with a share `rate` of its words replaced, some dropped and some inserted."""
    out = []
    for w in text.split():
        r = rng.random()
        if r < rate / 3:
            continue
        if r < 2 * rate / 3:
            out.append(f"w{rng.randrange(10**6)}")
        elif r < rate:
            out.extend([w, f"x{rng.randrange(10**6)}"])
        else:
            out.append(w)
    return " ".join(out)


def pairs() -> list[tuple[str, str]]:
    rng = random.Random(11)
    with gzip.open(DOLMA_FILE) as f:
        real = [json.loads(line)["text"] for line in f]
    with gzip.open(SHARED_DATA / "books" / "pg972_devils-dictionary.txt.gz") as f:
        book = f.read().decode("utf-8", "replace").split("\r\n\r\n")
    real += [p for p in book if len(p.split()) > 80][:40]
    vocab = [f"t{i}" for i in range(300)]
    randoms = [" ".join(rng.choice(vocab) for _ in range(rng.randint(60, 400))) for _ in range(30)]
    out = []
    for text in real + randoms:
        for rate in (0.02, 0.08, 0.2, 0.5):
            out.append((text, edited(text, rate, rng)))
    return out


@pytest.mark.shared_data
def test_estimates_track_true_jaccard_as_closely_as_datasketch():
    ours_err, theirs_err = [], []
    for t1, t2 in pairs():
        h1, h2 = shingle_hashes(t1, 5), shingle_hashes(t2, 5)
        s1, s2 = set(h1.tolist()), set(h2.tolist())
        true = len(s1 & s2) / len(s1 | s2)
        sig = signatures([t1, t2], num_perm=128, ngram=5)
        ours_err.append(abs(estimated_jaccard(sig[0], sig[1]) - true))
        m1, m2 = MinHash(num_perm=128), MinHash(num_perm=128)
        m1.update_batch([str(x).encode() for x in s1])
        m2.update_batch([str(x).encode() for x in s2])
        theirs_err.append(abs(m1.jaccard(m2) - true))
    ours, theirs = float(np.mean(ours_err)), float(np.mean(theirs_err))
    print(
        f"mean |estimate - true| over {len(ours_err)} pairs: ours {ours:.4f}, datasketch {theirs:.4f}"
    )
    assert ours <= theirs * 1.25 + 0.005
    assert float(np.percentile(ours_err, 95)) < 0.12


def test_signatures_are_deterministic_and_handle_empty_and_short_texts():
    texts = ["", "one", "two words", "the same text here " * 20]
    a = signatures(texts, num_perm=64)
    b = signatures(texts, num_perm=64)
    assert a.dtype == np.uint32 and a.shape == (4, 64)
    assert (a == b).all()
    assert (a < 2**32).all()
    assert estimated_jaccard(a[0], a[0]) == 1.0  # two empty documents look alike
    assert estimated_jaccard(a[1], a[2]) < 0.2
    assert shingle_hashes("only three words", 5).shape == (1,)  # one shingle of all its words


@pytest.mark.shared_data
def test_word_hashes_are_the_same_in_runs_and_the_power_table_does_not_grow(monkeypatch):
    import filters.dedup.minhash as mh

    texts = [t for _, t in real_documents(1000)][:300]
    texts.append(" ".join(texts) * 3)  # one text far longer than a run
    whole_h, whole_c = mh.token_hashes(texts)
    assert len(mh._POWERS[0]) == mh.CHUNK  # the long text's table was not kept
    monkeypatch.setattr(mh, "CHUNK", 4096)  # many runs of a few texts
    monkeypatch.setattr(mh, "_POWERS", [])
    h, c = mh.token_hashes(texts)
    assert np.array_equal(h, whole_h) and np.array_equal(c, whole_c)
    assert c.sum() > 100_000 and len(mh._POWERS[0]) == 4096
