"""The early look at a web record (filters/prefilter.py): decisions made on resiliparse's fast
rendering before trafilatura runs, each a named rejection with its score, and a kept set that
matches extracting everything and filtering after."""

from __future__ import annotations

import gzip
import json

import pytest

from corpus.dataset import Dataset
from corpus.sources.render import RenderError, render_html
from corpus.sources.warc import read_warc
from filters.prefilter import Prefilter, PrefilterParams
from tests.commands import run_corpus
from tests.test_extract_web import PAGE, SCRAPINGHUB, TRAFILATURA, WARC_DIR, collect, write_warc

ENGLISH_GERMAN = "strangemachines.io.performant"  # the one English page among the German ones


def shared_pages() -> list[tuple[str, str, bytes]]:
    """The 10 English scrapinghub pages and the 12 trafilatura pages (11 German, 1 English)."""
    pages = [
        (f"https://news.example/{p.name[:12]}", "text/html", gzip.open(p).read())
        for p in sorted(SCRAPINGHUB.glob("*.html.gz"))
    ]
    pages += [
        (f"https://{p.stem}.example/", "text/html", p.read_bytes())
        for p in sorted(TRAFILATURA.glob("*.html"))
    ]
    return pages


def page(title: str, words: int = 60) -> bytes:
    body = " ".join(f"word{i % 50}" for i in range(words))
    return PAGE.format(title=title, body=body).encode()


def by_reason(rejected) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in rejected.to_pylist():
        out.setdefault(row["reason"], []).append(row)
    return out


@pytest.mark.shared_data
def test_pages_in_other_languages_are_dropped_early_with_their_score(tmp_path):
    warc = tmp_path / "mixed.warc.gz"
    write_warc(warc, shared_pages())
    early = Prefilter(PrefilterParams(languages=["en"]))
    kept, rejected, counters = collect(read_warc(warc, prefilter=early.check))
    everything, _, _ = collect(read_warc(warc))
    dropped = by_reason(rejected)
    assert set(dropped) == {"language_keep (prefilter)"}
    assert len(dropped["language_keep (prefilter)"]) == 11
    for row in dropped["language_keep (prefilter)"]:
        meta = json.loads(row["meta"])
        assert meta["prefilter_lang"] == "de" and meta["prefilter_lang_score"] >= 0.9
        assert meta["prefilter_keep_prob"] < 0.05
        score, en = meta["prefilter_lang_score"], meta["prefilter_keep_prob"]
        assert row["error"] == f"de at {score}; kept languages {en} < min_keep_prob 0.05"
        assert row["text"]  # the rendering it was judged on, for `corpus trace`
    # the pages kept are the English ones, extracted exactly as with no early look
    assert kept.num_rows == 11
    assert any(ENGLISH_GERMAN in url for url in kept.column("url").to_pylist())
    full = {r["id"]: r["text"] for r in everything.to_pylist()}
    for row in kept.to_pylist():
        assert full[row["id"]] == row["text"]
    assert counters["prefilter_fallback"] == 0


@pytest.mark.shared_data
def test_real_common_crawl_records_keep_languages_asked_for():
    warc = WARC_DIR / "resiliparse_CC-MAIN-2020-34_excerpt.warc.gz"
    early = Prefilter(PrefilterParams(languages=["zh"], min_keep_prob=0.1))
    kept, rejected, _ = collect(read_warc(warc, prefilter=early.check))
    dropped = by_reason(rejected)["language_keep (prefilter)"]
    langs = [json.loads(r["meta"])["prefilter_lang"] for r in dropped]
    assert "zh" not in langs and {"ru", "de", "nl"} <= set(langs)
    # the pages that may be Chinese are kept, for the filter stage to judge on trafilatura's text
    assert kept.num_rows >= 6
    assert max(json.loads(r["meta"])["prefilter_keep_prob"] for r in dropped) < 0.1


def test_url_and_domain_block_lists(tmp_path):
    blocklist = tmp_path / "domains.txt"
    blocklist.write_text("# adult sites\nbad.example\n\nSPAM.test  # shouting\n")
    warc = tmp_path / "urls.warc.gz"
    urls = [
        "https://bad.example/a",
        "https://www.bad.example/b",  # under a blocked domain
        "https://notbad.example/c",  # a different domain that ends in the same letters
        "https://spam.test/d",
        "https://ok.example/casino/e",
        "https://ok.example/f",
    ]
    write_warc(warc, [(u, "text/html", page(u)) for u in urls])
    params = PrefilterParams(url_block=[r"/casino/"], domain_block=str(blocklist))
    kept, rejected, _ = collect(read_warc(warc, prefilter=Prefilter(params).check))
    assert sorted(kept.column("url").to_pylist()) == [
        "https://notbad.example/c",
        "https://ok.example/f",
    ]
    dropped = {row["url"]: (row["reason"], row["error"]) for row in rejected.to_pylist()}
    assert dropped == {
        "https://bad.example/a": ("domain_block (prefilter)", "bad.example is under bad.example"),
        "https://www.bad.example/b": (
            "domain_block (prefilter)",
            "www.bad.example is under bad.example",
        ),
        "https://spam.test/d": ("domain_block (prefilter)", "spam.test is under spam.test"),
        "https://ok.example/casino/e": ("url_block (prefilter)", "the URL matches '/casino/'"),
    }


def test_too_few_words_in_the_whole_page(tmp_path):
    warc = tmp_path / "short.warc.gz"
    write_warc(
        warc,
        [
            ("https://a.example/short", "text/html", page("Short", words=2)),
            ("https://a.example/long", "text/html", page("Long", words=80)),
        ],
    )
    early = Prefilter(PrefilterParams(min_words=50))
    kept, rejected, _ = collect(read_warc(warc, prefilter=early.check))
    assert kept.column("url").to_pylist() == ["https://a.example/long"]
    (row,) = rejected.to_pylist()
    # the <h1> title, then 2 body words and the 14-word sentence, three times over
    n = 1 + 3 * (2 + 14)
    assert row["reason"] == "min_words (prefilter)"
    assert row["error"] == f"{n} words in the whole page < min_words 50"
    assert json.loads(row["meta"])["prefilter_words"] == n


FRAMES = "<p>" + "Frames split a window in the nineties, and some pages still use them. " * 4
FRAMESET = (
    '<html><head><title>Frames</title></head><frameset cols="50%,50%"><frame src="a.html">'
    "</frameset>{body}</html>"
)


def test_a_page_the_fast_parser_cannot_render_goes_to_trafilatura(tmp_path):
    """HTML5 parsing drops a <body> after a <frameset>; trafilatura's parser reads it."""
    with_body = FRAMESET.format(body=f"<body>{FRAMES * 3}</body>")
    with pytest.raises(RenderError, match="frameset"):
        render_html(with_body)
    warc = tmp_path / "frames.warc.gz"
    write_warc(
        warc,
        [
            ("https://a.example/frames", "text/html", with_body.encode()),
            ("https://a.example/empty", "text/html", FRAMESET.format(body="").encode()),
        ],
    )
    early = Prefilter(PrefilterParams(languages=["en"], min_words=5))
    kept, rejected, counters = collect(read_warc(warc, prefilter=early.check))
    assert counters["prefilter_fallback"] == 2
    assert kept.column("url").to_pylist() == ["https://a.example/frames"]
    assert "nineties" in kept.column("text")[0].as_py()
    # refused by both parsers: a named rejection, not a silent loss
    assert [(r["url"], r["reason"]) for r in rejected.to_pylist()] == [
        ("https://a.example/empty", "no_text")
    ]


def pipeline(tmp_path, name: str, prefilter: str) -> str:
    config = tmp_path / f"{name}.yaml"
    config.write_text(
        f"""
name: {name}
stages:
  - stage: extract_web
    name: extract
    paths: ["{tmp_path}/*.warc.gz"]
{prefilter}
  - stage: filter
    name: quality
    language: {{keep: [en], min_score: 0.5}}
"""
    )
    return str(config)


@pytest.mark.shared_data
def test_the_kept_set_is_the_one_of_extracting_everything(tmp_path):
    """Through `corpus run`: early language decisions on or off, the same documents survive the
    filter stage; the report names the early drops."""
    write_warc(tmp_path / "pages.warc.gz", shared_pages())
    cc = (WARC_DIR / "resiliparse_CC-MAIN-2020-34_excerpt.warc.gz").read_bytes()
    (tmp_path / "cc.warc.gz").write_bytes(cc)
    early = "    prefilter: {languages: [en]}"
    kept = {}
    for name, group in (("late", ""), ("early", early)):
        run = tmp_path / name
        proc = run_corpus(
            "run", pipeline(tmp_path, name, group), "--run-dir", run, "--executor", "local"
        )
        assert proc.returncode == 0, proc.stderr
        kept[name] = set(Dataset(run / "quality" / "kept").read_all().column("id").to_pylist())
        report = json.loads((run / "report" / "report.json").read_text())
        extract = report["stages"][0]["rejected"]
        if name == "early":
            assert extract["language_keep (prefilter)"] >= 20
    assert len(kept["late"]) >= 8 and kept["early"] == kept["late"]
    dropped = Dataset(tmp_path / "early" / "extract" / "rejected").read_all().to_pylist()
    one = next(r for r in dropped if r["reason"] == "language_keep (prefilter)")
    proc = run_corpus("trace", tmp_path / "early", one["id"])
    assert proc.returncode == 0, proc.stderr
    assert "REJECTED: language_keep (prefilter)" in proc.stdout


@pytest.mark.parametrize(
    "group, words",
    [
        ("{min_keep_prob: 2}", "min_keep_prob must lie between 0 and 1"),
        ("{url_block: ['(unclosed']}", "url_block has an invalid regex '(unclosed'"),
        ("{domain_block: /no/such/list.txt}", "domain_block: no such file /no/such/list.txt"),
        ("{languages: []}", "languages must name at least one language"),
        ("{language: [en]}", "unknown key 'language'"),
    ],
)
def test_a_bad_prefilter_group_is_one_line(tmp_path, group, words):
    config = pipeline(tmp_path, "bad", f"    prefilter: {group}")
    proc = run_corpus("run", config, "--run-dir", tmp_path / "run")
    assert proc.returncode != 0
    assert proc.stderr.count("\n") == 1 and words in proc.stderr, proc.stderr


GERMAN = (
    "Die Stadtbibliothek öffnet am Montag wieder ihre Türen, nachdem das Gebäude über den "
    "Sommer gründlich renoviert wurde. Besucher finden im Erdgeschoss nun einen hellen "
    "Lesesaal mit mehr Arbeitsplätzen, und die Kinderabteilung ist in den ersten Stock gezogen."
)
ENGLISH = (
    "The city library opens its doors again on Monday, after the building was thoroughly "
    "renovated over the summer. Visitors now find a bright reading room with more desks on the "
    "ground floor, and the children's section has moved to the first floor."
)


def test_a_page_in_another_language_without_shared_data(tmp_path):
    warc = tmp_path / "two.warc.gz"
    pages = [("https://de.example/", GERMAN), ("https://en.example/", ENGLISH)]
    html = [(u, "text/html", PAGE.format(title="Library", body=t).encode()) for u, t in pages]
    write_warc(warc, html)
    early = Prefilter(PrefilterParams(languages=["en"]))
    kept, rejected, _ = collect(read_warc(warc, prefilter=early.check))
    assert kept.column("url").to_pylist() == ["https://en.example/"]
    (row,) = rejected.to_pylist()
    meta = json.loads(row["meta"])
    assert row["reason"] == "language_keep (prefilter)" and meta["prefilter_lang"] == "de"
    assert meta["prefilter_keep_prob"] < 0.05 and "warc_offset" in meta  # provenance kept


def test_url_patterns_keep_their_own_flags(tmp_path):
    """Each pattern is compiled alone: inline flags and group names do not clash."""
    warc = tmp_path / "urls.warc.gz"
    urls = ["https://a.example/Report.PDF", "https://a.example/x/ads/1", "https://a.example/ok"]
    write_warc(warc, [(u, "text/html", page(u)) for u in urls])
    params = PrefilterParams(url_block=[r"(?i)\.pdf$", r"(?P<ad>/ads/)", r"(?P<ad>/promo/)"])
    kept, rejected, _ = collect(read_warc(warc, prefilter=Prefilter(params).check))
    assert kept.column("url").to_pylist() == ["https://a.example/ok"]
    assert rejected.column("error").to_pylist() == [
        "the URL matches '.PDF'",
        "the URL matches '/ads/'",
    ]


def test_a_language_the_model_lacks_is_one_line(tmp_path):
    write_warc(tmp_path / "p.warc.gz", [("https://a.example/", "text/html", page("A"))])
    config = pipeline(tmp_path, "lang", "    prefilter: {languages: [en, english, EN]}")
    proc = run_corpus("run", config, "--run-dir", tmp_path / "run")
    assert proc.returncode != 0
    assert proc.stderr.count("\n") == 1, proc.stderr  # before any task starts
    assert "languages: the language model has no ['EN', 'english']" in proc.stderr


@pytest.mark.parametrize(
    "value, words",
    [
        ("{languages: [en]", "argument --prefilter: not YAML"),
        ("[en]", "argument --prefilter: must be a YAML mapping"),
        ("{min_words: 0}", "min_words must be at least 1"),
    ],
)
def test_a_bad_prefilter_option_is_one_line(tmp_path, value, words):
    warc = tmp_path / "p.warc.gz"
    write_warc(warc, [("https://a.example/", "text/html", page("A"))])
    proc = run_corpus("extract", "web", warc, "--out", tmp_path / "out", "--prefilter", value)
    assert proc.returncode != 0
    assert words in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_replacing_the_domain_list_redoes_the_stage(tmp_path):
    write_warc(tmp_path / "p.warc.gz", [("https://a.example/", "text/html", page("A"))])
    domains = tmp_path / "domains.txt"
    domains.write_text("b.example\n")
    config = pipeline(tmp_path, "d", f"    prefilter: {{domain_block: {domains}}}")
    run = tmp_path / "run"
    outcomes = []
    for listed in ("b.example\n", "a.example\n"):
        domains.write_text(listed)
        proc = run_corpus("run", config, "--run-dir", run, "--executor", "local")
        assert proc.returncode == 0, proc.stderr
        report = json.loads((run / "report" / "report.json").read_text())
        outcomes.append(report["stages"][0]["rejected"])
    assert outcomes == [{}, {"domain_block (prefilter)": 1}]
