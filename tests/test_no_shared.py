"""A clone without ../shared: the tests that read the shared data are skipped, with one line
saying what is missing and how to provide it, and every other test runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from xml.etree import ElementTree

from tests.commands import ROOT
from tests.shared_data_skip import SHARED_DATA_MISSING

# quick files holding both kinds of test: marked tests, a module-wide mark, and a skip from
# the helper `make_pipeline`
SUBSET = [
    "tests/test_jsonl.py",
    "tests/test_minhash.py",
    "tests/test_extract_cli.py",
    "tests/test_runner.py::test_a_rerun_reuses_every_committed_part",
]
NEED_SHARED_DATA = {
    "test_dolma_records_map_onto_the_document_record",
    "test_round_trip_gives_back_every_field_byte_for_byte",
    "test_estimates_track_true_jaccard_as_closely_as_datasketch",
    "test_extract_each_kind_from_the_command_line",
    "test_extract_options_and_errors",
    "test_extract_stages_in_a_pipeline",
    "test_a_rerun_reuses_every_committed_part",
    "test_a_big_plain_file_is_read_as_ranges_that_give_what_one_reader_gives",
    "test_word_hashes_are_the_same_in_runs_and_the_power_table_does_not_grow",
}


def test_without_shared_data_its_tests_are_skipped_with_one_line_and_the_rest_pass(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    env["CORPUS_SHARED_DATA"] = str(tmp_path / "no-shared-data")
    junit = tmp_path / "junit.xml"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}"]
        + SUBSET,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    cases = ElementTree.parse(junit).getroot().iter("testcase")
    outcomes = {c.get("name"): [e.tag for e in c] for c in cases}
    skipped = {name for name, tags in outcomes.items() if "skipped" in tags}
    passed = [
        name for name, tags in outcomes.items() if not {"skipped", "failure", "error"} & set(tags)
    ]
    assert skipped == NEED_SHARED_DATA
    assert len(passed) == len(outcomes) - len(skipped) >= 6
    summary = [line for line in proc.stdout.splitlines() if SHARED_DATA_MISSING in line]
    assert len(summary) == 1, proc.stdout  # one line, not one per test or per file
    assert re.fullmatch(rf"SKIPPED \[{len(skipped)}\] \S*no-shared-data: .*", summary[0])
    assert f"{len(passed)} passed, {len(skipped)} skipped" in proc.stdout
