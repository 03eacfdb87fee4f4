"""The inputs of each dedup task, one dataclass per kind of task (see `pipelines/dedup/stage.py`
for the phases). Files are listed as `files_by_dest` gives them, and one destination's rows of a
shuffle as a `ShuffleInput`; `partitions` is the number of shuffle partitions a task writes to."""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.phases import InputPart, ShuffleInput

Files = list[dict] | ShuffleInput


@dataclass(frozen=True)
class HashIds:
    """ids: hash a part's document ids to the partitions of the hashes."""

    part: InputPart
    ordinal: int  # of the part among all parts, earlier runs' first
    partitions: int


@dataclass(frozen=True)
class Partition:
    """idcheck, labels, reps: one shuffle partition's rows, sent on to the input parts."""

    files: Files
    first_new: int = 0  # reps: the ordinal of this run's first part (earlier runs' come first)


@dataclass(frozen=True)
class Repartition:
    """candidates, large, small: one shuffle partition's rows, shuffled again."""

    files: Files
    partitions: int


@dataclass(frozen=True)
class KeyPart:
    """keys, for a part of this run: its documents' keys, and their standing."""

    part: InputPart
    ordinal: int
    partitions: int
    duplicate_ids: Files  # the part's documents whose id came earlier
    indexed: bool  # write the part's keys and signatures for the index, too


@dataclass(frozen=True)
class KeyIndexedPart:
    """keys, for a part of an earlier run: the keys and signatures the index holds for it."""

    ordinal: int
    partitions: int
    keys: list[dict]
    sigs: list[dict]


@dataclass(frozen=True)
class VerifyPairs:
    """verify1, verify2: a partition's candidate pairs, joined to the signatures held there."""

    pairs: Files
    sigs: Files
    partitions: int
    first: bool  # verify1


@dataclass(frozen=True)
class Members:
    """members: a part's cluster labels, joined to its documents, sent to their clusters."""

    labels: Files
    docs: list[dict]
    partitions: int


@dataclass(frozen=True)
class Decide:
    """final: a part's kept and rejected documents, and the cluster of each."""

    part: InputPart
    ordinal: int
    first_new: int  # the ordinal of this run's first part: those below are earlier runs'
    members: Files
    docs: list[dict]
    indexed: bool  # write the documents' standing for the index, too
