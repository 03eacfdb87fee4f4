"""Sub-document dedup (`dedup --mode lines|paragraphs`): spans repeated across documents are
removed, counted exactly as a brute-force count over the whole dataset says; the same bytes
whatever the executor, workers and partitions, and after a kill -9."""

from __future__ import annotations

import signal
from collections import defaultdict

import pytest

from corpus.dataset import Dataset
from filters.dedup.keys import normalize_text
from filters.dedup.spans import keys, remove, split
from pipelines.executors import LocalExecutor, RayExecutor
from pipelines.standalone import run_on_dataset
from samples.shared_data import real_documents
from tests.commands import kill_when, run_corpus
from tests.datasets import snapshot, write_dataset

BANNER = "We use cookies to improve your experience on our site."
SHOUTED = "WE USE COOKIES to improve your experience on our site"  # the same span, normalized
RARE = "This footer line is planted in exactly two documents only."
SHORT = "Share this"  # 10 characters: under min_chars
LONG = "boilerplate " * 10_000  # a 120,000-character line


def test_spans_split_and_removal_keep_the_rest_to_the_byte():
    text = "first para\nline two\n\n\nsecond\n \t\nthird\n"
    spans, seps = split(text, "paragraphs")
    assert spans == ["first para\nline two", "second", "third\n"]
    assert seps == ["", "\n\n\n", "\n \t\n"]
    assert remove(text, "paragraphs", set()) == (text, [])
    assert remove(text, "paragraphs", {1}) == ("first para\nline two\n \t\nthird\n", [(22, 28)])
    assert remove(text, "paragraphs", {0}) == ("second\n \t\nthird\n", [(0, 19)])
    assert remove(text, "lines", {1, 5}) == (
        "first para\n\n\nsecond\nthird\n",
        [(11, 19), (29, 31)],
    )
    s = keys(
        ["Share this page with friends!", "  share THIS page with   friends ", "tiny"], "lines", 20
    )
    assert s.keyed.tolist() == [True, True, False]  # "tiny" is under 20 characters
    assert (s.k1[0], s.k2[0]) == (s.k1[1], s.k2[1])


def planted_documents() -> list[dict]:
    """Real documents (books, forums, the web) with lines planted at known rates."""
    docs = []
    for n, (doc_id, text) in enumerate(real_documents(target=1500)[::5][:240]):
        lines = text.split("\n")
        if n % 3 == 0:
            lines.insert(min(2, len(lines)), BANNER)
        if n % 40 == 1:
            lines.append(SHOUTED)
        if n in (5, 77):
            lines.append(RARE)
        if n % 2 == 0:
            lines.append(SHORT)
        if n in (10, 20, 30):
            lines.insert(0, LONG)
        docs.append({"id": doc_id, "text": "\n".join(lines), "source": "web"})
    docs.append({"id": "empty", "text": "", "source": "web"})
    docs.append({"id": "banner-only", "text": BANNER, "source": "web"})
    return docs


def brute_force(docs: list[dict], unit: str, min_docs: int, min_chars: int, keep_first: bool):
    """Each document's text after removal, by a plain count over the whole list."""
    holders = defaultdict(list)  # normalized span -> documents holding it, in input order
    for n, d in enumerate(docs):
        for span in set(split(d["text"], unit)[0]):
            if len(span.strip()) >= min_chars and normalize_text(span.strip()):
                holders[normalize_text(span.strip())].append(n)
    out = {}
    for n, d in enumerate(docs):
        spans, _ = split(d["text"], unit)
        drop = set()
        for i, span in enumerate(spans):
            who = holders.get(normalize_text(span.strip()), [])
            repeated = len(span.strip()) >= min_chars and len(who) >= min_docs
            if repeated and not (keep_first and min(who) == n):
                drop.add(i)
        out[d["id"]] = remove(d["text"], unit, drop)[0]
    return out


def dedup(src, out, executor=None, **params):
    outcome = run_on_dataset("dedup", src, out, params, executor)
    kept = {r["id"]: r for r in Dataset(out / "kept").read_all().to_pylist()}
    rejected = {r["id"]: r for r in Dataset(out / "rejected").read_all().to_pylist()}
    return outcome, kept, rejected


@pytest.mark.shared_data
def test_repeated_lines_are_removed_as_an_exact_count_says(tmp_path):
    docs = planted_documents()
    write_dataset(tmp_path / "in", docs, part_rows=40)
    outcome, kept, rejected = dedup(tmp_path / "in", tmp_path / "out", mode="lines")
    want = brute_force(docs, "lines", min_docs=3, min_chars=20, keep_first=False)
    assert set(rejected) == {"banner-only"}  # nothing left of it
    assert rejected["banner-only"]["reason"] == "subdoc_too_short"
    assert "held by 85 or more documents" in rejected["banner-only"]["error"]
    assert {i: r["text"] for i, r in kept.items()} == {i: want[i] for i in kept}
    holders = sum(1 for d in docs if BANNER in d["text"] or SHOUTED in d["text"])
    assert holders == 80 + 4 + 1  # every 3rd, every 40th from 1 not also a 3rd, banner-only
    for d in docs:
        text = kept.get(d["id"], {}).get("text", "")
        assert BANNER not in text and SHOUTED not in text and LONG not in text
        if RARE in d["text"]:  # in 2 documents, under min_docs: stays
            assert RARE in text
        if SHORT in d["text"]:  # under min_chars: stays though in every other document
            assert SHORT in text
    first = kept[docs[0]["id"]]  # holds the banner: its removal is recorded with its count
    places = {docs[0]["text"][r["start"] : r["end"]]: r["docs"] for r in first["subdoc_removed"]}
    assert places[BANNER] == holders
    assert first["subdoc_spans_removed"] == len(places)
    assert first["subdoc_chars_removed"] == len(docs[0]["text"]) - len(first["text"])
    counters = outcome.stats["counters"]
    assert counters["empty_docs"] == 1 and counters["long_spans"] == 3
    assert counters["spans_removed"] == sum(r["subdoc_spans_removed"] for r in kept.values()) + 1
    top = outcome.stats["top_spans"]
    assert top[0]["docs"] == holders and top[0]["first"] == docs[0]["id"]
    assert normalize_text(top[0]["text"]) == normalize_text(BANNER)


@pytest.mark.shared_data
def test_keep_first_paragraphs_leave_each_span_in_its_first_document(tmp_path):
    docs = planted_documents()
    write_dataset(tmp_path / "in", docs, part_rows=33)
    _, kept, rejected = dedup(
        tmp_path / "in", tmp_path / "out", mode="paragraphs", min_docs=2, keep_first=True
    )
    want = brute_force(docs, "paragraphs", min_docs=2, min_chars=20, keep_first=True)
    assert {i: r["text"] for i, r in kept.items()} == {i: want[i] for i in kept}
    assert len(kept) + len(rejected) == len(docs)
    assert all(len(want[i].strip()) < 50 for i in rejected)
    assert sum(r["subdoc_spans_removed"] > 0 for r in kept.values()) >= 10


@pytest.mark.shared_data
def test_same_bytes_whatever_the_executor_workers_and_partitions(tmp_path, ray_session):
    write_dataset(tmp_path / "in", planted_documents(), part_rows=50)
    runs = [
        ("local-1", LocalExecutor(), 1),
        ("local-7", LocalExecutor(), 7),
        ("ray-2w-3", RayExecutor(workers=2), 3),
    ]
    results, tops = [], []
    for name, executor, partitions in runs:
        outcome, _, _ = dedup(
            tmp_path / "in", tmp_path / name, executor, mode="lines", partitions=partitions
        )
        results.append({k: v for k, v in snapshot(tmp_path / name).items()})
        tops.append(outcome.stats["top_spans"])
    assert results[0] and all(r == results[0] for r in results[1:])
    assert tops[0] and all(t == tops[0] for t in tops[1:])  # the report's spans too
    # parted otherwise on input, the same documents come out, in the same order, the same
    write_dataset(tmp_path / "in-17", planted_documents(), part_rows=17)
    dedup(tmp_path / "in-17", tmp_path / "parts-17", mode="lines", partitions=2)
    for split_ in ("kept", "rejected"):
        a = Dataset(tmp_path / "local-1" / split_).read_all()
        b = Dataset(tmp_path / "parts-17" / split_).read_all()
        assert a.num_rows and a.equals(b)


def test_the_most_repeated_spans_are_the_same_whatever_the_partitions(tmp_path):
    # 40 lines, each in 3 documents: all tie, and the report keeps 25 of them, the same 25
    docs = [
        {
            "id": f"d{i:02}",
            "text": "\n".join(
                [f"The body of document {i}, found in this document and no other one."]
                + [
                    f"Repeated line number {j} of the tie test"
                    for j in range(40)
                    if i - 2 <= j <= i
                ]
            ),
            "source": "web",
        }
        for i in range(42)
    ]
    write_dataset(tmp_path / "in", docs, part_rows=10)
    tops = []
    for partitions in (1, 5, 8):
        outcome, _, _ = dedup(
            tmp_path / "in", tmp_path / f"p{partitions}", mode="lines", partitions=partitions
        )
        assert outcome.stats["counters"]["repeated_spans"] == 40
        tops.append(outcome.stats["top_spans"])
    assert len(tops[0]) == 25 and all(t["docs"] == 3 for t in tops[0])
    assert tops[1] == tops[0] and tops[2] == tops[0]


@pytest.mark.shared_data
def test_killed_line_dedup_resumes_to_the_same_bytes(tmp_path):
    write_dataset(tmp_path / "in", planted_documents(), part_rows=20)
    args = ["dedup", tmp_path / "in", "--mode", "lines", "--partitions", "3", "--executor", "local"]
    assert run_corpus(*args, "--out", tmp_path / "whole").returncode == 0
    out = tmp_path / "killed"
    work = out / "_state" / "work"
    kills = 0
    for phase, records in (("spans", 4), ("count", 1), ("final", 3)):
        status = kill_when([*args, "--out", out], work / phase, records)
        kills += status == -signal.SIGKILL
    done = run_corpus(*args, "--out", out)
    assert done.returncode == 0, done.stderr
    assert kills >= 2
    assert snapshot(tmp_path / "whole") == snapshot(out)


@pytest.mark.parametrize(
    "args, words",
    [
        (["--mode", "lines", "--min-docs", "1"], "min_docs must be at least 2"),
        (["--mode", "paragraphs", "--index", "{tmp}/idx"], "index is for whole documents"),
    ],
)
def test_bad_arguments_give_one_line(tmp_path, args, words):
    write_dataset(tmp_path / "in", [{"id": "a", "text": "x", "source": "web"}])
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    done = run_corpus("dedup", tmp_path / "in", "--out", tmp_path / "o", *args)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert words in done.stderr.strip().splitlines()[-1]


@pytest.mark.shared_data
def test_the_report_lists_the_repeated_spans_and_trace_shows_what_went(tmp_path):
    import json

    docs = planted_documents()
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    config = tmp_path / "spans.yaml"
    config.write_text(
        f"name: spans\nstages:\n  - stage: import_jsonl\n    name: import\n"
        f"    paths: [{tmp_path / 'docs.jsonl'}]\n    part_rows: 60\n"
        "  - stage: dedup\n    name: lines\n    mode: lines\n"
    )
    run = tmp_path / "run"
    done = run_corpus("run", config, "--run-dir", run, "--executor", "local")
    assert done.returncode == 0, done.stderr
    page = (run / "report" / "index.html").read_text()
    section = page[page.index("<section id=spans>") :]
    section = section[: section.index("</section>")]
    assert "repeated lines" in section
    assert "(counted like any other): 3." in section  # the planted 120,000-character lines
    assert "Empty documents: 1;" in section
    rows = section.split("<tr>")[2:]  # the spans, most repeated first
    assert "<td>85</td>" in rows[0] and "We use cookies" in rows[0] and docs[0]["id"] in rows[0]
    traced = run_corpus("trace", run, docs[0]["id"])
    assert traced.returncode == 0, traced.stderr
    assert f"held by 85 documents: {BANNER!r}" in traced.stdout
    assert "subdoc_spans_removed=" in traced.stdout
    gone = run_corpus("trace", run, "banner-only")
    assert "REJECTED: subdoc_too_short" in gone.stdout
    assert f"held by 85 documents: {BANNER!r}" in gone.stdout
