"""Decontamination: documents sharing a normalized 13-word n-gram with held-out text are dropped
as `contaminated`, the n-gram shown; the rest stay."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from filters.decontam import NgramIndex
from tests.commands import run_corpus

HELD_OUT = (
    "Angling may be said to be so like the mathematics that it can never be fully learnt; at "
    "least not so fully but that there will still be more new experiments left for the trial "
    "of other men that succeed us."
)


def index(tmp_path, *texts: str, n: int = 13) -> NgramIndex:
    path = tmp_path / "heldout.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    return NgramIndex.build([path], n)


def test_a_shared_run_of_13_words_is_found_through_case_punctuation_and_spacing(tmp_path):
    idx = index(tmp_path, HELD_OUT)
    copied = (
        "Our club's motto: ANGLING may be said to be so like the Mathematics, that it can never "
        "be fully learnt!  We meet on Sundays."
    )
    twelve = "angling may be said to be so like the mathematics that it cannot"  # 12 + 1 differing
    table = pa.table(
        {"id": ["copied", "twelve", "other"], "text": [copied, twelve, "Trout rise at dusk. " * 9]}
    )
    result = idx.decontaminate(table)
    assert result.kept.column("id").to_pylist() == ["twelve", "other"]
    assert result.rejected.column("reason").to_pylist() == ["contaminated"]
    (error,) = result.rejected.column("error").to_pylist()
    assert error == (
        "shares the 13-gram: angling may be said to be so like the mathematics that it can"
    )


def test_texts_shorter_than_n_words_contaminate_nothing(tmp_path):
    idx = index(tmp_path, "twelve words only here and there but not one more word at")
    assert len(idx.hashes) == 0 and idx.texts == 1
    same = pa.table(
        {"id": ["a"], "text": ["twelve words only here and there but not one more " * 3]}
    )
    assert idx.decontaminate(same).kept.num_rows == 1
    assert len(index(tmp_path, HELD_OUT, n=8).hashes) == len(HELD_OUT.split()) - 8 + 1


@pytest.mark.shared_data
def test_the_command_drops_the_documents_holding_a_held_out_passage(tmp_path):
    from tests.runs import make_pipeline

    config = make_pipeline(tmp_path)
    run = tmp_path / "run"
    assert run_corpus("run", config, "--run-dir", run, "--executor", "local").returncode == 0
    kept = pa.concat_tables(
        [pa.parquet.read_table(p) for p in sorted((run / "filter" / "kept").glob("*.parquet"))]
    )
    texts = kept.column("text").to_pylist()
    words = texts[3].split()
    passage = " ".join(words[len(words) // 2 : len(words) // 2 + 30])
    against = tmp_path / "benchmark.txt"
    against.write_text(f"Question: which passage is this?\n{passage}\n")
    out = tmp_path / "clean"
    done = run_corpus(
        "decontaminate",
        run / "filter" / "kept",
        "--against",
        against,
        "--out",
        out,
        "--executor",
        "local",
    )
    assert done.returncode == 0, done.stderr
    rejected = pa.parquet.read_table(out / "_rejected")
    assert rejected.column("reason").to_pylist() == ["contaminated"]
    assert rejected.column("text").to_pylist() == [texts[3]]
    assert pa.parquet.read_table(out).num_rows == kept.num_rows - 1
    missing = run_corpus(
        "decontaminate", run / "filter" / "kept", "--against", tmp_path / "nope.txt", "--out", out
    )
    assert missing.returncode != 0
    assert missing.stderr.strip().splitlines()[-1].endswith("nope.txt: no such file")
    assert "Traceback" not in missing.stderr
