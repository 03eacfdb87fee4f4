"""The `corpus` command line as a user meets it: help, import/export, errors in one line."""

import gzip
import json

import pytest
import zstandard

from samples.shared_data import DOLMA_FILE
from tests.commands import run_corpus
from tests.datasets import write_jsonl
from tests.runs import make_pipeline


def _one_line_error(proc, *needles):
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line]
    assert len(errors) == 1 and lines[-1] == errors[0], proc.stderr  # progress lines may precede
    for needle in needles:
        assert needle in errors[0], errors[0]


def test_help_lists_every_stage_command():
    proc = run_corpus("--help")
    assert proc.returncode == 0
    for command in ("run", "status", "import", "export", "stages"):
        assert f"    {command} " in proc.stdout
    stages = run_corpus("stages")
    for stage in ("import_jsonl", "length_filter", "export_jsonl"):
        assert stage in stages.stdout


@pytest.mark.shared_data
def test_import_then_export_round_trips_the_dolma_file(tmp_path):
    ds, out = tmp_path / "ds", tmp_path / "out.jsonl.zst"
    proc = run_corpus("import", DOLMA_FILE, "--out", ds, "--executor", "local")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((ds / "_manifest.json").read_text())["rows"] == 10
    proc = run_corpus("export", ds, "--out", out, "--executor", "local")
    assert proc.returncode == 0, proc.stderr
    with gzip.open(DOLMA_FILE) as f:
        original = f.read()
    exported = zstandard.ZstdDecompressor().decompressobj().decompress(out.read_bytes())
    assert exported == original  # one zstd frame holding every record, byte for byte
    assert not list(tmp_path.glob(".*"))  # no work files left beside the export


@pytest.mark.shared_data
def test_export_of_a_damaged_dataset_stops_naming_the_part(tmp_path):
    ds = tmp_path / "ds"
    assert run_corpus("import", DOLMA_FILE, "--out", ds, "--executor", "local").returncode == 0
    part = next(ds.glob("part-*.parquet"))
    part.write_bytes(part.read_bytes()[:-10] + b"0123456789")
    proc = run_corpus("export", ds, "--out", tmp_path / "o.jsonl", "--executor", "local")
    _one_line_error(proc, part.name, "checksum mismatch")
    assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.parametrize(
    "args, needles",
    [
        (["import", "nope.jsonl", "--out", "x"], ["no such file: nope.jsonl"]),
        (["export", "no-such-dataset", "--out", "o.jsonl"], ["no such dataset folder"]),
        (["run", "missing.yaml"], ["no such config file"]),
        (["status", "."], ["not a run folder"]),
        (["import", "a", "--out", "x", "--workers", "zero"], ["--workers", "whole number"]),
        (["run", "x.yaml", "--executor", "spark"], ["invalid choice: 'spark'"]),
        (["import", "a", "--out", "x", "--source", "blog"], ["invalid choice: 'blog'"]),
        (
            ["import", "in.jsonl", "--out", "x", "--executor", "local", "--workers", "2"],
            ["--workers needs --executor ray"],
        ),
        (
            ["import", "in.jsonl", "--out", "x", "--executor", "local", "--task-memory", "2G"],
            ["--task-memory needs --executor ray"],
        ),
        (["run", "x.yaml", "--task-memory", "lots"], ["--task-memory", "a size such as 500M"]),
    ],
)
def test_bad_arguments_give_one_line(tmp_path, args, needles):
    write_jsonl(tmp_path / "in.jsonl", ['{"id": "1", "text": "a"}'])
    proc = run_corpus(*args, cwd=tmp_path)
    _one_line_error(proc, *needles)


BAD_CONFIGS = {
    "unknown key": (
        "stages:\n  - stage: import_jsonl\n    paths: [IN]\n  - stage: length_filter\n"
        "    min_word: 3\n",
        ["stages[1]: unknown key 'min_word'", "min_words"],
    ),
    "wrong type": (
        "stages:\n  - stage: import_jsonl\n    paths: [IN]\n  - stage: length_filter\n"
        "    min_words: ten\n",
        ["stages[1].min_words must be an integer, got 'ten'"],
    ),
    "missing input": (
        "stages:\n  - stage: import_jsonl\n    paths: [no/such/file.jsonl]\n",
        ["stages[0].paths: no such file: no/such/file.jsonl"],
    ),
    "unknown stage": (
        "stages:\n  - stage: dedupe\n",
        ["stages[0].stage: unknown stage 'dedupe'"],
    ),
    "unknown top key": ("stage: []\n", ["unknown key 'stage'"]),
    "bad yaml": ("stages: [\n  - a: b\n", ["not valid YAML", "line"]),
    "map without input": (
        "stages:\n  - stage: length_filter\n",
        ["stages[0]: needs an input"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_configs_stop_with_one_line_naming_file_and_key(tmp_path, case):
    text, needles = BAD_CONFIGS[case]
    config = tmp_path / "bad.yaml"
    write_jsonl(tmp_path / "in.jsonl", ['{"id": "1", "text": "a"}'])
    config.write_text(text.replace("IN", str(tmp_path / "in.jsonl")))
    proc = run_corpus("run", config, "--executor", "local", cwd=tmp_path)
    _one_line_error(proc, str(config), *needles)
    assert proc.returncode == 2
    assert not (tmp_path / "runs").exists()


def test_status_shows_parts_done_per_stage(tmp_path):
    config = make_pipeline(tmp_path)
    run = tmp_path / "run"
    proc = run_corpus("run", config, "--run-dir", run, "--executor", "local")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == f"report: {run}/report/index.html"
    status = run_corpus("status", run)
    rows = {line.split()[0]: line.split() for line in status.stdout.splitlines()[1:]}
    parts = len(list((run / "import" / "kept").glob("part-*.parquet")))
    assert rows["filter"][2] == f"{parts}/{parts}" and rows["filter"][3] == "done"
    assert set(rows) == {"import", "filter", "export"}


def _flat(text: str) -> str:
    return " ".join(text.split())  # argparse wraps help lines


def test_stage_command_flags_take_default_and_help_from_the_params():
    from pipelines.cli.stage_flags import field_comments
    from pipelines.stages import REGISTRY

    params = REGISTRY["dedup"].Params
    proc = run_corpus("dedup", "--help")
    assert proc.returncode == 0, proc.stderr
    comment = field_comments(params)["threshold"]
    assert comment and f"--threshold X {comment}; default: {params.threshold}" in _flat(proc.stdout)
    assert "--verify, --no-verify" in proc.stdout


@pytest.mark.parametrize(
    "argv, field, value",
    [
        (["crawl", "--seeds", "s.txt", "--out", "o", "--ignore-robots"], "obey_robots", False),
        (["crawl", "--seeds", "s.txt", "--out", "o", "--delay", "0.5"], "delay_s", 0.5),
        (
            ["crawl", "--seeds", "s", "--out", "o", "--allow-domain", "a.org"],
            "allow_domains",
            ["a.org"],
        ),
        (["dedup", "d", "--out", "o", "--no-verify"], "verify", False),
        (["dedup", "d", "--out", "o", "--set", "num_perm=64"], "num_perm", 64),
        (
            ["tokenizer", "train", "d", "--out", "t.json", "--max-bytes", "500M"],
            "max_bytes",
            500 << 20,
        ),
        (
            ["shard", "d", "--tokenizer", "t.json", "--out", "o", "--weights", "web=2"],
            "weights",
            {"web": 2.0},
        ),
        (["import", "f", "--out", "o", "--part-rows", "7"], "part_rows", 7),
    ],
)
def test_renamed_and_parsed_flags_keep_their_meaning(argv, field, value):
    from pipelines.cli import build_parser
    from pipelines.cli.crawl_command import CRAWL
    from pipelines.cli.stage_commands import DEDUP, IMPORT, SHARD, TOKENIZER

    flags = {"crawl": CRAWL, "dedup": DEDUP, "tokenizer": TOKENIZER, "shard": SHARD}
    given = {
        "crawl": {"seeds": ["https://example.org/"]},
        "tokenizer": {"file": "t.json"},
        "import": {"paths": ["f"]},
    }
    args = build_parser().parse_args(argv)
    params = flags.get(argv[0], IMPORT).parse(args, "test", **given.get(argv[0], {}))
    assert getattr(params, field) == value
    untouched = type(params)(**given.get(argv[0], {}))  # every other field keeps its default
    assert {**vars(untouched), field: value} == vars(params)


def test_field_comments_follow_the_source():
    from dataclasses import dataclass

    from pipelines.cli.stage_flags import field_comments

    @dataclass
    class Params:
        a: int = 1  # trailing
        b: int = 2  # trailing, and
        # continued below

        # above c
        c: str = "#"
        d: float = 0.5

    assert field_comments(Params) == {
        "a": "trailing",
        "b": "trailing, and continued below",
        "c": "above c",
    }


def test_shard_inspect_is_a_subcommand_beside_shard():
    proc = run_corpus("shard", "inspect", "--help")
    assert proc.returncode == 0, proc.stderr
    assert (
        proc.stdout.startswith("usage: corpus shard inspect") and "--sample-tokens" in proc.stdout
    )
    proc = run_corpus("shard", "--help")
    assert proc.returncode == 0 and "--shard-tokens" in proc.stdout and "--weights" in proc.stdout
    proc = run_corpus("shard", "inspect")
    _one_line_error(proc, "corpus shard inspect: error:", "DIR")
