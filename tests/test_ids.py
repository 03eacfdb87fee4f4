"""Document ids are unique across a stage's inputs and stable across runs: files that share a base
name (every site's Posts.xml, every folder's index.html) keep all their documents, a Reddit thread
split over an RS and an RC file is one document, and the same file given twice is still caught."""

import json
import shutil
from collections import Counter

import pytest
import zstandard

from corpus.dataset import Dataset
from corpus.sources.social import read_reddit
from corpus.sources.stackexchange import read_posts_xml
from samples.demo import write_demo_sample
from samples.shared_data import SHARED_DATA
from tests.commands import run_corpus
from tests.shared_data_skip import require_shared_data

REAL_POSTS = SHARED_DATA / "forums" / "datascience-se_Posts.xml.gz"


def _run(tmp, stages: str, name: str = "ids"):
    config = tmp / f"{name}.yaml"
    config.write_text(f"name: {name}\nstages:\n{stages}")
    run = tmp / "run"
    proc = run_corpus("run", config, "--run-dir", run, "--executor", "local", timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((run / "report" / "report.json").read_text())
    return run, {s["name"]: s for s in report["stages"]}


def _threads_alone(path, tmp) -> int:
    return sum(r.kept.num_rows for r in read_posts_xml(path, scratch_dir=tmp))


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    out = tmp_path_factory.mktemp("sample")
    return write_demo_sample(out)


def test_two_posts_xml_in_two_folders_keep_every_thread(tmp_path, sample):
    require_shared_data()
    a, b = tmp_path / "datascience" / "Posts.xml", tmp_path / "python" / "Posts.xml"
    a.parent.mkdir()
    b.parent.mkdir()
    shutil.copy(REAL_POSTS, a)  # gzip inside: the reader sniffs it
    shutil.copy(sample["forums"][0], b)
    alone_a, alone_b = _threads_alone(a, tmp_path), _threads_alone(b, tmp_path)
    qids = [
        {
            json.loads(m)["question_id"]
            for r in read_posts_xml(p)
            for m in r.kept.column("meta").to_pylist()
        }
        for p in (a, b)
    ]
    assert qids[0] & qids[1], "the two dumps must share question ids for this test to mean much"

    run, stages = _run(
        tmp_path,
        f"""  - stage: extract_forum
    name: forum
    paths: ["{tmp_path}/*/Posts.xml"]
  - stage: dedup
    mode: exact
""",
    )
    kept = Dataset(run / "forum" / "kept").read_all().column("id").to_pylist()
    assert len(kept) == alone_a + alone_b
    assert len(set(kept)) == len(kept)
    assert {i.split(":")[1] for i in kept} == {"datascience/Posts.xml", "python/Posts.xml"}
    assert stages["dedup"]["rejected"].get("duplicate_id", 0) == 0
    assert stages["dedup"]["docs_in"] == alone_a + alone_b


def test_same_file_given_twice_is_caught_as_duplicate_id(tmp_path, sample):
    posts = sample["forums"][0]
    alone = _threads_alone(posts, tmp_path)
    run, stages = _run(
        tmp_path,
        f"""  - stage: extract_forum
    name: forum
    paths: ["{posts}", "{posts}"]
  - stage: dedup
    mode: exact
""",
    )
    assert stages["forum"]["docs_out"] == 2 * alone
    assert stages["dedup"]["rejected"] == {"duplicate_id": alone}
    assert stages["dedup"]["docs_out"] == alone


def test_two_index_html_in_two_folders_are_two_documents(tmp_path):
    page = "<html><head><title>{0}</title></head><body><article><h1>{0}</h1><p>{1}</p></article></body></html>"
    texts = {
        "alpha": "The first site explains how the garden is watered in the dry months. " * 5,
        "beta": "The second site describes the repair of an old bicycle, step by step. " * 5,
    }
    for folder, text in texts.items():
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "index.html").write_text(page.format(folder, text))
    run, stages = _run(
        tmp_path,
        f"""  - stage: extract_web
    name: web
    paths: ["{tmp_path}/*/index.html"]
  - stage: dedup
    mode: exact
""",
    )
    rows = Dataset(run / "web" / "kept").read_all().to_pylist()
    assert sorted(r["id"] for r in rows) == ["web:alpha/index.html", "web:beta/index.html"]
    assert stages["dedup"]["docs_out"] == 2


def _split_dump(tmp_path, sample):
    """The demo's Reddit dump split as the Pushshift archives are: submissions in an RS file,
    comments in an RC file of a later month."""
    raw = zstandard.ZstdDecompressor().decompress(sample["social"][0].read_bytes(), 1 << 26)
    lines = [json.loads(x) for x in raw.decode().splitlines()]
    subs = [x for x in lines if x["name"].startswith("t3_")]
    comments = [x for x in lines if x["name"].startswith("t1_")]
    assert subs and comments
    files = {}
    for name, rows in (("RS_2024-01.ndjson", subs), ("RC_2024-02.ndjson", comments)):
        files[name] = tmp_path / "reddit" / name
        files[name].parent.mkdir(exist_ok=True)
        files[name].write_text("".join(json.dumps(r) + "\n" for r in rows))
    return lines, subs, files


def test_reddit_thread_split_over_rs_and_rc_files_is_one_document(tmp_path, sample):
    lines, subs, files = _split_dump(tmp_path, sample)
    run, stages = _run(
        tmp_path,
        f"""  - stage: extract_social
    name: social
    paths: ["{tmp_path}/reddit/R*.ndjson"]
  - stage: dedup
    mode: exact
""",
    )
    rows = Dataset(run / "social" / "kept").read_all().to_pylist()
    assert len(rows) == len(subs)
    assert stages["dedup"]["rejected"].get("duplicate_id", 0) == 0
    for row in rows:
        meta = json.loads(row["meta"])
        sid = row["id"].removeprefix("reddit:t3_")
        expected = [x["id"] for x in lines if x["id"] == sid or x.get("link_id") == f"t3_{sid}"]
        assert sorted(meta["post_ids"]) == sorted(expected)  # submission and all its comments
        assert meta["path"] == str(files["RS_2024-01.ndjson"])
        assert row["title"] and row["url"].endswith(f"/comments/{sid}/")

    # read apart, the RC file alone would give title-less threads: grouping is what joins them
    alone = [r for r in read_reddit(files["RC_2024-02.ndjson"]) if r.kept.num_rows]
    assert all(t is None for r in alone for t in r.kept.column("title").to_pylist())


def test_reddit_file_given_twice_rejects_each_repeated_post(tmp_path, sample):
    lines, subs, files = _split_dump(tmp_path, sample)
    rc = files["RC_2024-02.ndjson"]
    results = list(read_reddit([files["RS_2024-01.ndjson"], rc, rc], names=["rs", "rc", "rc"]))
    kept = sum(r.kept.num_rows for r in results)
    reasons = Counter(x for r in results for x in r.rejected.column("reason").to_pylist())
    assert kept == len(subs)
    assert reasons["duplicate_id"] == len(lines) - len(subs)


def test_names_stay_when_more_files_come_to_match_the_pattern(tmp_path, sample):
    # one dump under data/*/Posts.xml is named python/Posts.xml, not Posts.xml, so a second
    # dump added later leaves the first one's ids as they were (an index of earlier runs holds)
    posts = sample["forums"][0]
    (tmp_path / "data" / "python").mkdir(parents=True)
    shutil.copy(posts, tmp_path / "data" / "python" / "Posts.xml")
    stages = f"""  - stage: extract_forum
    name: forum
    paths: ["{tmp_path}/data/*/Posts.xml"]
"""
    run, _ = _run(tmp_path, stages)
    before = Dataset(run / "forum" / "kept").read_all().column("id").to_pylist()
    assert before and all(i.startswith("se:python/Posts.xml:") for i in before)
    (tmp_path / "data" / "other").mkdir()
    shutil.copy(posts, tmp_path / "data" / "other" / "Posts.xml")
    run, _ = _run(tmp_path, stages)
    after = Dataset(run / "forum" / "kept").read_all().column("id").to_pylist()
    assert set(before) < set(after) and len(after) == 2 * len(before)
