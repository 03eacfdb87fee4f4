"""fastText classifiers from the command line: trained on real labelled data, evaluated on a
held-out part, compared with the majority-class baseline; others' models load unchanged."""

from __future__ import annotations

import csv
import gzip
import json

import fasttext
import numpy as np
import pytest

from corpus.errors import CorpusError
from corpus.sources.common import decode_bytes
from corpus.sources.html import extract_html
from corpus.sources.markup import html_to_text
from filters.classify import (
    Labelled,
    ToxicityClassifierParams,
    TrainOptions,
    classifier,
    classifier_scores,
    train,
)
from samples.shared_data import SHARED_DATA
from tests.commands import run_corpus

TOXICITY = SHARED_DATA / "toxicity"


def train_and_eval(tmp_path, *train_args, name="model"):
    model = tmp_path / f"{name}.bin"
    result = run_corpus("classifier", "train", *train_args, "--holdout", "0.2", "--out", model)
    assert result.returncode == 0, result.stderr
    held = model.with_suffix(".heldout.jsonl")
    result = run_corpus("classifier", "eval", "--model", model, "--labeled", held, "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    print(name, json.dumps({k: figures[k] for k in ("macro_f1", "accuracy", "baseline")}))
    return model, figures


@pytest.mark.shared_data
def test_toxicity_on_davidson_beats_the_majority_baseline(tmp_path):
    model, figures = train_and_eval(
        tmp_path, "--kind", "toxicity", "--labeled", TOXICITY / "davidson_slice.csv",
        "--text-col", "tweet", "--label-col", "class",
        "--label-map", "0=hate,1=offensive,2=neither",
    )  # fmt: skip
    assert figures["examples"] == 400  # 20% of the 2,000 tweets, by label
    assert set(figures["per_label"]) == {"hate", "offensive", "neither"}
    assert figures["macro_f1"] > figures["baseline"]["macro_f1"] + 0.15
    assert figures["accuracy"] >= figures["baseline"]["accuracy"]
    total = sum(sum(row.values()) for row in figures["confusion"].values())
    assert total == 400
    # the human form: a row per label and a confusion table
    table = run_corpus(
        "classifier", "eval", "--model", model, "--labeled", model.with_suffix(".heldout.jsonl")
    )
    assert (
        table.returncode == 0
        and "confusion" in table.stdout
        and "majority baseline" in table.stdout
    )
    info = json.loads(model.with_suffix(".json").read_text())
    assert info["heldout"]["macro_f1"] == figures["macro_f1"]


@pytest.mark.shared_data
def test_toxicity_on_davidson_and_jigsaw_as_one_jsonl(tmp_path):
    """Both real sets, relabelled toxic/clean by the user, in one JSONL file."""
    rows = []
    with open(TOXICITY / "davidson_slice.csv", newline="") as f:
        for row in csv.DictReader(f):
            rows.append(
                {"text": row["tweet"], "label": "clean" if row["class"] == "2" else "toxic"}
            )
    with open(TOXICITY / "jigsaw_subset_ibm_max_test_examples.csv", newline="") as f:
        for row in csv.DictReader(f):
            rows.append(
                {"text": row["comment_text"], "label": "toxic" if row["toxic"] == "1" else "clean"}
            )
    labelled = tmp_path / "toxic.jsonl"
    labelled.write_text("".join(json.dumps(r) + "\n" for r in rows))
    model, figures = train_and_eval(
        tmp_path, "--kind", "toxicity", "--labeled", labelled, name="toxic"
    )
    assert figures["macro_f1"] > figures["baseline"]["macro_f1"] + 0.2
    # as a filter: its positive label is `toxic`, recorded beside the model
    texts = ["you are a stupid bitch", "thank you for the helpful edit to the article"]
    scored = classifier(texts, ToxicityClassifierParams(model=str(model)), "toxicity")
    assert scored.columns["toxicity_score"][0] > scored.columns["toxicity_score"][1]
    assert scored.reasons == ["toxicity_max_score", None]


def boilerplate_pages(path):
    """What trafilatura leaves out of real pages (menus, footers, links), one document a page."""
    pages = [
        gzip.open(p).read() for p in sorted((SHARED_DATA / "html" / "scrapinghub").glob("*.gz"))
    ]
    pages += [p.read_bytes() for p in sorted((SHARED_DATA / "html" / "trafilatura").glob("*.html"))]
    with open(path, "w") as f:
        for i, data in enumerate(pages):
            main = {line.strip() for line in extract_html(data)["text"].split("\n")}
            full = html_to_text(decode_bytes(data, None, html=True)[0])
            rest = [s.strip() for s in full.split("\n") if s.strip() and s.strip() not in main]
            f.write(json.dumps({"id": f"page-{i}", "text": "\n".join(rest)}) + "\n")


@pytest.mark.shared_data
def test_quality_from_two_datasets(tmp_path):
    """Stack Exchange threads and Gutenberg books as good text, page boilerplate as bad."""
    forum, books, boiler = tmp_path / "forum", tmp_path / "books", tmp_path / "boiler"
    steps = [
        ("extract", "forum", SHARED_DATA / "forums" / "datascience-se_Posts.xml.gz", "--out", forum),
        ("extract", "book", SHARED_DATA / "books" / "pg972_devils-dictionary.txt.gz",
         SHARED_DATA / "books" / "pg9198_complete-angler_latin1.txt.gz", "--out", books),
    ]  # fmt: skip
    boilerplate_pages(tmp_path / "boiler.jsonl")
    steps.append(("import", tmp_path / "boiler.jsonl", "--out", boiler))
    for step in steps:
        result = run_corpus(*step, "--executor", "local")
        assert result.returncode == 0, result.stderr
    model, figures = train_and_eval(
        tmp_path, "--kind", "quality", "--positive", forum, "--positive", books,
        "--negative", boiler, "--chunk-words", "30", "--balance", name="quality",
    )  # fmt: skip
    assert set(figures["per_label"]) == {"hq", "lq"}
    assert figures["baseline"]["macro_f1"] < 0.4  # balanced: the majority guess is a coin toss
    assert figures["macro_f1"] > 0.85


def test_models_in_dclm_and_dolma_format_load_and_score_unchanged(tmp_path):
    """A plain fastText .bin with `__label__hq` / `__label__cc` (DCLM's labels) and no sidecar
    of ours."""
    good = "the committee published a detailed report on the causes of the flood"
    bad = "click here login sign up cookie settings share tweet subscribe now"
    data = Labelled()
    for i in range(50):
        data.add(f"{good} {i}", "hq")
        data.add(f"{bad} {i}", "cc")
    path = tmp_path / "dclm_style.bin"
    train(data, path, "quality", TrainOptions(epoch=10, lr=0.1, dim=16))
    path.with_suffix(".json").unlink()  # no record of ours: scored as DCLM and Dolma score
    raw = fasttext.load_model(str(path))
    assert sorted(raw.get_labels()) == ["__label__cc", "__label__hq"]
    scores = classifier_scores([good + "\nmore", bad], str(path), None, "quality")
    assert scores[0] > 0.8 > 0.2 > scores[1]  # P(hq), text prepared as DCLM does (no newlines)
    expected = raw.predict(good + " more", k=-1)
    assert scores[0] == pytest.approx(min(1.0, dict(zip(*expected, strict=True))["__label__hq"]))
    two = classifier_scores([bad], str(path), ["__label__cc", "hq"], "quality")  # summed
    assert two[0] == pytest.approx(1.0, abs=1e-3)
    with pytest.raises(CorpusError, match=r"has no label toxic \(its labels: cc, hq\)"):
        classifier_scores([bad], str(path), None, "toxicity")


@pytest.mark.shared_data
def test_training_is_deterministic(tmp_path):
    args = ("--kind", "toxicity", "--labeled", TOXICITY / "jigsaw_subset_ibm_max_test_examples.csv",
            "--text-col", "comment_text", "--label-col", "toxic", "--seed", "3")  # fmt: skip
    digests = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.bin"
        result = run_corpus("classifier", "train", *args, "--out", out)
        assert result.returncode == 0, result.stderr
        digests.append(out.read_bytes())
    assert digests[0] == digests[1]
    model = fasttext.load_model(str(tmp_path / "a.bin"))
    labels, probs = model.predict(["some text", "other text"], k=-1)  # works under numpy 2
    assert np.__version__.startswith("2") and len(labels) == 2 and probs[0].sum() > 0.99


def test_bad_input_gives_one_line(tmp_path):
    csv_file = tmp_path / "x.csv"
    csv_file.write_text("body,label\nhello,1\n")
    cases = [
        (("classifier", "train", "--kind", "toxicity", "--labeled", csv_file, "--out",
          tmp_path / "m.bin"), "no column 'text' (columns: body, label)"),
        (("classifier", "train", "--kind", "toxicity", "--labeled", csv_file, "--text-col",
          "body", "--out", tmp_path / "m.bin"), "training needs at least two labels"),
        (("classifier", "eval", "--model", csv_file, "--labeled", csv_file, "--text-col",
          "body"), "is not a fastText model"),
        (("classifier", "train", "--kind", "quality", "--out", tmp_path / "m.bin"),
         "give --labeled FILE, or both --positive and --negative datasets"),
        (("classifier", "train", "--kind", "quality", "--labeled", csv_file, "--label-map",
          "oops", "--out", tmp_path / "m.bin"), "label map items are FROM=TO"),
    ]  # fmt: skip
    for args, message in cases:
        result = run_corpus(*args)
        assert result.returncode in (1, 2), args
        assert message in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
