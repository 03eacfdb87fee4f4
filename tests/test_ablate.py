"""`corpus ablate` and the `ablate` stage: every arm trained on the same budget, tokenizer,
config and seeds, decontaminated against the eval texts; results, table and report section."""

from __future__ import annotations

import json
import shutil

import pyarrow.parquet as pq
import pytest

from samples.shared_data import SHARED_DATA
from tests.commands import kill_when, run_corpus
from tests.runs import make_pipeline

pytestmark = pytest.mark.shared_data
BOOK = SHARED_DATA / "books" / "pg9198_complete-angler_ascii.txt.gz"  # not in the corpus


def kept_texts(folder):
    return [
        t for p in sorted(folder.glob("*.parquet")) for t in pq.read_table(p)["text"].to_pylist()
    ]


def ablate_args(run, planted):
    return [
        "ablate", run, "--arms", "import,filter", "--eval", BOOK, planted, "--tokens", "6144",
        "--seeds", "2", "--vocab-size", "600", "--executor", "local",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def ablated(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ablate")
    config = make_pipeline(tmp)
    run = tmp / "run"
    assert run_corpus("run", config, "--run-dir", run, "--executor", "local").returncode == 0
    texts = kept_texts(run / "filter" / "kept")
    words = texts[0].split()
    planted = tmp / "planted.jsonl"  # a passage of a kept document, as a benchmark would hold it
    planted.write_text(json.dumps({"text": " ".join(words[10:60])}) + "\n")
    done = run_corpus(*ablate_args(run, planted), timeout=600)
    assert done.returncode == 0, done.stderr
    return run, texts, done, planted


def test_every_arm_trains_on_the_same_budget_and_seeds(ablated):
    run, texts, _, _ = ablated
    results = json.loads((run / "ablation" / "results.json").read_text())
    imported = len(kept_texts(run / "import" / "kept"))
    arms = {a["name"]: a for a in results["arms"]}
    # the planted passage's document is in both arms, and removed from both before training
    assert arms["import"]["docs"] == imported - 1 and arms["filter"]["docs"] == len(texts) - 1
    assert arms["import"]["contaminated"] == arms["filter"]["contaminated"] == 1
    for arm in arms.values():  # each arm's shards hold the budget, up to whole documents
        manifest = json.loads(
            (run / "ablation" / arm["name"] / "shards" / "shards.json").read_text()
        )
        assert manifest["budget"]["tokens"] == 6144
        assert abs(arm["train_tokens"] - 6144) < 0.5 * 6144
        # each run trains 3 steps of 2,048 tokens: each of the arm's tokens that often, on average
        assert arm["repeat"] == pytest.approx(6144 / arm["tokens"], abs=1e-4)
    assert arms["filter"]["tokens"] < arms["import"]["tokens"]  # so repeated more
    runs = {(r["arm"], r["seed"]): r for r in results["runs"]}
    assert sorted(runs) == [("filter", 0), ("filter", 1), ("import", 0), ("import", 1)]
    for seed in (0, 1):  # one tokenizer and seed: the same model before the first step, so the
        # same bpb there, on the same windows; different data after
        a, b = runs["import", seed]["curve"], runs["filter", seed]["curve"]
        assert [p["tokens"] for p in a] == [p["tokens"] for p in b] == [0, 2048, 4096, 6144]
        assert a[0]["bpb"] == b[0]["bpb"]
        assert a[1]["bpb"] != b[1]["bpb"]
    assert runs["import", 0]["curve"][0]["bpb"] != runs["import", 1]["curve"][0]["bpb"]


def test_the_table_and_the_report_say_the_difference_in_words(ablated):
    run, _, done, _ = ablated
    results = json.loads((run / "ablation" / "results.json").read_text())
    s = results["summary"]["pg9198_complete-angler_ascii.txt.gz"]
    final = {
        (r["arm"], r["seed"]): r["bpb"]["pg9198_complete-angler_ascii.txt.gz"]
        for r in results["runs"]
    }
    diffs = [final["filter", k] - final["import", k] for k in (0, 1)]
    assert s["filter"]["diff"] == pytest.approx(sum(diffs) / 2)
    assert s["filter"]["se"] == pytest.approx(abs(diffs[0] - diffs[1]) / 2)
    assert s["import"]["verdict"] == "baseline"
    assert f"{s['filter']['diff']:+.4f} ± {s['filter']['se']:.4f}" in done.stdout
    html = (run / "report" / "index.html").read_text()
    assert "<section id=ablation>" in html and s["filter"]["verdict"] in html
    assert "1 document(s) share a 13-gram with the eval texts" in done.stderr


def test_bad_arms_and_short_eval_texts_are_one_line(ablated, tmp_path):
    run = tmp_path / "run"  # a copy: an ablation under another config withdraws the results
    shutil.copytree(ablated[0], run, ignore=shutil.ignore_patterns("ablation"))
    short = tmp_path / "short.txt"
    short.write_text("Too short to be one window of the trainer.")
    cases = [
        (
            ["--arms", "import,nothing", "--eval", BOOK],
            "arm 'nothing' names 'nothing', which is no",
        ),
        (["--arms", "raw=,filter", "--eval", BOOK], "an arm is STAGE or NAME=STAGE+STAGE"),
        (["--arms", "v1.5=filter", "--eval", BOOK], "an arm's name must be lowercase letters"),
        (["--arms", "filter", "--eval", BOOK, BOOK], "eval: two files are called"),
        (["--arms", "import", "--eval", short], "shorter than one window"),
    ]
    for args, message in cases:
        done = run_corpus(
            "ablate",
            run,
            *args,
            "--tokens",
            "2048",
            "--seeds",
            "1",
            "--vocab-size",
            "600",
            "--executor",
            "local",
        )
        assert done.returncode != 0
        assert "Traceback" not in done.stderr
        assert message in done.stderr.strip().splitlines()[-1]


def test_more_seeds_train_only_the_new_runs_side_by_side(ablated, tmp_path):
    run, _, _, planted = ablated
    copy = tmp_path / "run"
    shutil.copytree(run, copy)  # with the ablation's 2 seeds done
    args = ablate_args(copy, planted)
    args[args.index("--seeds") + 1] = "3"
    done = run_corpus(*args, "--parallel", "2")
    assert done.returncode == 0, done.stderr
    assert done.stderr.count(" parameters on ") == 2  # seed 2 of each arm, at once
    ours, theirs = (json.loads((r / "ablation" / "results.json").read_text()) for r in (copy, run))
    assert [(r["arm"], r["seed"]) for r in ours["runs"]] == [
        ("import", 0), ("import", 1), ("import", 2), ("filter", 0), ("filter", 1), ("filter", 2)
    ]  # fmt: skip
    assert [r for r in ours["runs"] if r["seed"] < 2] == theirs["runs"]
    # the same again, one at a time: the config hash leaves out how many trainings run at once
    again = run_corpus(*args, "--parallel", "1")
    assert again.returncode == 0 and " parameters on " not in again.stderr
    args[args.index("--seeds") + 1] = "1"  # one seed: the runs are there, and no error bar
    one = run_corpus(*args)
    assert one.returncode == 0 and " parameters on " not in one.stderr
    assert "one seed: no error bar" in one.stdout
    results = json.loads((copy / "ablation" / "results.json").read_text())
    assert [(r["arm"], r["seed"]) for r in results["runs"]] == [("import", 0), ("filter", 0)]


def test_an_arm_with_no_documents_is_one_line(tmp_path):
    config = make_pipeline(tmp_path, min_words=10**6)  # the filter keeps nothing
    run = tmp_path / "run"
    assert run_corpus("run", config, "--run-dir", run, "--executor", "local").returncode == 0
    done = run_corpus(
        "ablate", run, "--arms", "import,filter", "--eval", BOOK, "--tokens", "2048",
        "--seeds", "1", "--executor", "local",
    )  # fmt: skip
    assert done.returncode != 0 and "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.endswith("arm 'filter' (filter) has no documents to train on")


def test_a_killed_ablation_resumes_to_the_same_results(ablated, tmp_path):
    run, _, _, planted = ablated
    copy = tmp_path / "run"
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("ablation"))
    watch = copy / "_state" / "ablation" / "work" / "train"
    watch.mkdir(parents=True)  # killed -9 once the first training run is committed
    assert kill_when(ablate_args(copy, planted), watch, 1, timeout_s=300) < 0
    done = run_corpus(*ablate_args(copy, planted))
    assert done.returncode == 0, done.stderr
    assert done.stderr.count(" parameters on ") == 3  # the 3 runs left, not the one done
    ours, theirs = (json.loads((r / "ablation" / "results.json").read_text()) for r in (copy, run))
    assert ours["runs"] == theirs["runs"] and ours["summary"] == theirs["summary"]
