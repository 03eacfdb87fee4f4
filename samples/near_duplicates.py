"""Near-duplicates planted among real documents at measured Jaccard similarity: the input of the
dedup tests and benchmarks, with the truth computed without our hashing."""

from __future__ import annotations

import random

from samples.shared_data import real_documents


def shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    """Word n-grams of the lowercased text, as tuples: the truth, computed without our hashing."""
    words = text.lower().split()
    if len(words) < n:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _edit(words: list[str], amount: float, rng: random.Random, filler: list[str]) -> list[str]:
    out = list(words)
    for _ in range(max(1, round(amount * len(words) / 5))):
        out[rng.randrange(len(out))] = rng.choice(filler)
    return out


def _insert(words: list[str], amount: float, rng: random.Random, filler: list[str]) -> list[str]:
    out = list(words)
    for _ in range(max(1, round(amount * len(words) / 20))):
        at = rng.randrange(len(out) + 1)
        start = rng.randrange(max(1, len(filler) - 12))
        out[at:at] = filler[start : start + 12]
    return out


def _reorder(words: list[str], amount: float, rng: random.Random, filler: list[str]) -> list[str]:
    out = list(words)
    for _ in range(max(1, round(amount * len(words) / 25))):
        cut = sorted(rng.sample(range(1, len(out)), 2))
        out = out[: cut[0]] + out[cut[1] :] + out[cut[0] : cut[1]]  # move a block to the end
    return out


KINDS = {"edit": _edit, "insert": _insert, "reorder": _reorder}
LEVELS = (1.0, 0.95, 0.9, 0.85, 0.7, 0.6, 0.5)


def plant(text: str, kind: str, target: float, rng: random.Random, filler: list[str]) -> str:
    """A variant of `text` by `kind` whose shingle Jaccard with it is close to `target`."""
    words = text.split()
    if target >= 1.0:
        return text
    base = shingles(text)
    lo, hi = 0.0, 2.0
    best = words
    for _ in range(12):  # bisect the amount of change; each try from the same seed
        amount = (lo + hi) / 2
        candidate = KINDS[kind](words, amount, random.Random(rng.random()), filler)
        j = jaccard(base, shingles(" ".join(candidate)))
        best = candidate
        if abs(j - target) < 0.01:
            break
        if j > target:
            lo = amount
        else:
            hi = amount
    return " ".join(best)


def planted_corpus(n_base: int, n_variants: int, seed: int = 7) -> list[tuple[str, str]]:
    """`n_base` real documents (books without their second edition or encoding) plus
    `n_variants` planted near-duplicates of some of them, each made by one kind of change at one
    of LEVELS of Jaccard similarity; the (id, text) pairs in a shuffled order."""
    rng = random.Random(seed)
    docs = real_documents(books=("pg972", "pg9198"))
    docs = [d for d in docs if len(d[1].split()) >= 60]
    rng.shuffle(docs)
    base = docs[:n_base]
    filler = " ".join(t for _, t in docs[n_base : n_base + 50]).split()
    out = list(base)
    for i in range(n_variants):
        doc_id, text = base[i % n_base]
        kind = rng.choice(sorted(KINDS))
        level = LEVELS[i % len(LEVELS)]
        out.append((f"{doc_id}~{kind}{level}-{i}", plant(text, kind, level, rng, filler)))
    rng.shuffle(out)
    return out
