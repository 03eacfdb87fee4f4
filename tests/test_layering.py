"""The house rules of DESIGN §1: imports point one way (`samples -> pipelines -> filters ->
corpus`: the demo and its sample sit on top, nothing below imports them), and the trainer never
loads the data stack."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest

from tests.commands import ROOT

FORBIDDEN = {
    "corpus": {"filters", "pipelines", "samples", "bench", "tests"},
    "filters": {"pipelines", "samples", "bench", "tests"},
    "pipelines": {"samples", "bench", "tests"},
    "samples": {"bench", "tests"},
    "tests": {"bench"},
}


def imported_packages(path) -> set[str]:
    """The top-level names of every module `path` imports, at module level or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_one_way(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    wrong = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[package])
        for path in files
    }
    assert {k: v for k, v in wrong.items() if v} == {}


def test_the_trainer_loads_neither_pyarrow_nor_the_pipeline():
    """Every trainer module imported in a fresh interpreter: only the shards and a light
    tokenizer module come in from the data side."""
    code = (
        "import importlib, json, pkgutil, sys, trainer\n"
        "names = [m.name for m in pkgutil.iter_modules(trainer.__path__)]\n"
        "for name in names:\n"
        "    importlib.import_module('trainer.' + name)\n"
        "print(json.dumps([names, sorted(sys.modules)]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    names, modules = json.loads(proc.stdout)
    assert {"train", "data", "evaluation", "sample", "export_hf", "model"} <= set(names)
    assert [m for m in modules if m.split(".")[0] in ("pyarrow", "filters", "pipelines")] == []
