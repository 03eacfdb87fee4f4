"""Every heuristic rule: a document written to pass it and one written to fail it.

Each case switches every other rule of its set off, so the failing document is dropped by this
rule alone, and the drop reason must be the rule's name; the same failing document must pass
when only that rule is switched off (each rule is separately switchable).
"""

from __future__ import annotations

import dataclasses

import pytest

from filters.c4 import C4Params, c4
from filters.fineweb import FineWebParams, fineweb
from filters.gopher import (
    GopherQualityParams,
    GopherRepetitionParams,
    gopher_quality,
    gopher_repetition,
)
from filters.text import Doc

GOOD = """The river town woke slowly on market days, and the baker was always first to open.
By six the square smelled of bread, and farmers were unloading crates of apples and pears.
Children ran between the stalls while their parents argued about the price of cheese.
An old man sold honey from a folding table and told anyone who would listen about his bees.
Nobody in town remembered when the market had started, but everyone agreed it was older than the church.
In the afternoon the musicians arrived, and the square filled with people who had finished their work.
When the sun went down, the traders packed their carts and the baker swept the street in front of his shop.
The next morning the square was empty again, and only the pigeons were looking for crumbs."""

WORDS = GOOD.split()


def lines_of(n: int, line: str) -> str:
    return "\n".join(line for _ in range(n))


def unique_sentences(n: int) -> list[str]:
    """n different plain sentences, each ending with a full stop."""
    subjects = ["The baker", "A farmer", "My sister", "Our neighbour", "The teacher", "A child"]
    verbs = ["carried", "painted", "counted", "noticed", "repaired", "borrowed", "watched"]
    objects = ["the old boat", "seven baskets", "a broken chair", "the garden fence", "two maps"]
    out = []
    for i in range(n):
        s, v, o = subjects[i % 6], verbs[(i // 6) % 7], objects[(i // 42) % 5]
        out.append(f"{s} {v} {o} on day {i + 1} of the long summer.")
    return out


NOT_RULES = {"stop_words_dir", "default_language", "short_line_length", "remove_citations"}


def only(params_cls, keep: str, **values):
    """`params_cls` with every rule off except `keep` (thresholds None, switches False)."""
    changes = {}
    for f in dataclasses.fields(params_cls):
        if f.name in NOT_RULES or f.name == keep or f.name in values:
            continue
        changes[f.name] = False if isinstance(f.default, bool) else None
    changes.update(values)
    return params_cls(**changes)


def without(params, rule: str):
    value = getattr(params, rule)
    return dataclasses.replace(params, **{rule: False if isinstance(value, bool) else None})


REPEATED_LINE = "Buy cheap watches online today with free shipping."
CASES = [
    # (function, params class, rule (a parameter), reason, passing text, failing text)
    (gopher_quality, GopherQualityParams, "min_words", "gopher_min_words", GOOD,
     "Too short to be a real document, this one."),
    (gopher_quality, GopherQualityParams, "max_words", "gopher_max_words", GOOD,
     " ".join(WORDS * 800)),
    (gopher_quality, GopherQualityParams, "min_mean_word_length", "gopher_min_mean_word_length",
     GOOD, " ".join(["a", "an", "it", "is", "so", "we", "go", "up"] * 10)),
    (gopher_quality, GopherQualityParams, "max_mean_word_length", "gopher_max_mean_word_length",
     GOOD, " ".join(["internationalization", "counterrevolutionary", "incomprehensibilities"] * 20)),
    (gopher_quality, GopherQualityParams, "max_symbol_word_ratio", "gopher_max_symbol_word_ratio",
     GOOD, " ".join(f"#tag{i} #topic{i} word" for i in range(30))),
    (gopher_quality, GopherQualityParams, "max_bullet_lines_ratio",
     "gopher_max_bullet_lines_ratio", GOOD,
     "\n".join(f"• item number {i} in the list of things to buy" for i in range(20))),
    (gopher_quality, GopherQualityParams, "max_ellipsis_lines_ratio",
     "gopher_max_ellipsis_lines_ratio", GOOD,
     "\n".join(f"Read the rest of story number {i} here..." for i in range(20))),
    (gopher_quality, GopherQualityParams, "min_alpha_words_ratio", "gopher_min_alpha_words_ratio",
     GOOD, "Prices: " + " ".join(str(1000 + 7 * i) for i in range(80))),
    (gopher_quality, GopherQualityParams, "min_stop_words", "gopher_min_stop_words", GOOD,
     " ".join(["apple", "banana", "cherry", "market", "stall", "price", "bread"] * 10)),
    (gopher_repetition, GopherRepetitionParams, "max_dup_line_frac", "gopher_max_dup_line_frac",
     GOOD, "\n".join(unique_sentences(6) + ["Short."] * 5)),
    (gopher_repetition, GopherRepetitionParams, "max_dup_para_frac", "gopher_max_dup_para_frac",
     GOOD, "\n\n".join(unique_sentences(6) + ["Short."] * 5)),
    (gopher_repetition, GopherRepetitionParams, "max_dup_line_char_frac",
     "gopher_max_dup_line_char_frac", GOOD, "\n".join(unique_sentences(8) + [REPEATED_LINE] * 4)),
    (gopher_repetition, GopherRepetitionParams, "max_dup_para_char_frac",
     "gopher_max_dup_para_char_frac", GOOD,
     "\n\n".join(unique_sentences(8) + [REPEATED_LINE] * 4)),
    (gopher_repetition, GopherRepetitionParams, "max_top_2gram_frac", "gopher_max_top_2gram_frac",
     GOOD, " ".join(f"cheap watches w{i}" for i in range(40))),
    (gopher_repetition, GopherRepetitionParams, "max_top_3gram_frac", "gopher_max_top_3gram_frac",
     GOOD, " ".join(f"buy cheap watches w{i}" for i in range(40))),
    (gopher_repetition, GopherRepetitionParams, "max_top_4gram_frac", "gopher_max_top_4gram_frac",
     GOOD, " ".join(f"buy cheap watches now w{i}" for i in range(40))),
] + [
    (gopher_repetition, GopherRepetitionParams, f"max_dup_{n}gram_frac",
     f"gopher_max_dup_{n}gram_frac", GOOD,
     GOOD + " " + " ".join(WORDS[20:20 + n]) + " and again " + " ".join(WORDS[20:20 + n])
     + " " + " ".join(WORDS[40:40 + 2 * n]) + " then " + " ".join(WORDS[40:40 + 2 * n]))
    for n in (5, 6, 7, 8, 9, 10)
] + [
    (c4, C4Params, "max_word_length", "c4_max_word_length", GOOD,
     "\n".join(f"This line holds a word {'x' * 1200} that is far too long." for _ in range(6))),
    (c4, C4Params, "terminal_punct", "c4_terminal_punct", GOOD,
     "\n".join(f"Home page menu entry number {i} without an ending" for i in range(8))),
    (c4, C4Params, "min_words_per_line", "c4_min_words_per_line", GOOD,
     "\n".join(f"Item {i}." for i in range(8))),
    (c4, C4Params, "javascript", "c4_javascript", GOOD,
     "\n".join(f"Please enable JavaScript to view page {i} of this site." for i in range(8))),
    (c4, C4Params, "policy", "c4_policy", GOOD,
     "\n".join(f"This site uses cookies, see our privacy policy, clause {i}." for i in range(8))),
    (c4, C4Params, "lorem_ipsum", "c4_lorem_ipsum", GOOD,
     GOOD + "\nLorem ipsum dolor sit amet, consectetur adipiscing elit."),
    (c4, C4Params, "curly_braces", "c4_curly_braces", GOOD,
     GOOD + "\nThe function body is { return x; } in that example."),
    (c4, C4Params, "min_sentences", "c4_min_sentences", GOOD,
     "Only one sentence here, although it is long enough to keep."),
    (fineweb, FineWebParams, "min_line_punct_ratio", "fineweb_min_line_punct_ratio", GOOD,
     "\n".join(f"Navigation entry number {i} for the main menu of the site" for i in range(10))),
    (fineweb, FineWebParams, "max_short_line_ratio", "fineweb_max_short_line_ratio", GOOD,
     "\n".join(f"Short line {i}." for i in range(10)) + "\n" + GOOD.split("\n")[0]),
    (fineweb, FineWebParams, "max_dup_line_char_ratio", "fineweb_max_dup_line_char_ratio", GOOD,
     GOOD + "\n" + GOOD.split("\n")[2]),
    (fineweb, FineWebParams, "max_list_ratio", "fineweb_max_list_ratio", GOOD,
     "\n".join(f"Apples {i}." for i in range(30))),
]  # fmt: skip


def run(fn, params, text: str, **doc) -> str | None:
    return fn([Doc(text, **doc)], params).reasons[0]


@pytest.mark.parametrize(
    ("fn", "cls", "rule", "reason", "passing", "failing"),
    CASES,
    ids=[c[3] for c in CASES],
)
def test_rule_passes_good_and_drops_bad(fn, cls, rule, reason, passing, failing):
    params = only(cls, rule)
    assert run(fn, params, passing) is None
    assert run(fn, params, failing) == reason
    assert run(fn, without(params, rule), failing) is None  # switched off, it drops nothing


def test_every_rule_has_a_case():
    tested = {(c[1], c[2]) for c in CASES}
    rules = [
        (GopherQualityParams, f.name)
        for f in dataclasses.fields(GopherQualityParams)
        if f.name.startswith(("min_", "max_"))
    ]
    rules += [(GopherRepetitionParams, f.name) for f in dataclasses.fields(GopherRepetitionParams)]
    rules += [
        (C4Params, f.name)
        for f in dataclasses.fields(C4Params)
        if f.name not in ("default_language", "remove_citations", "badwords")
    ]
    rules += [
        (FineWebParams, f.name)
        for f in dataclasses.fields(FineWebParams)
        if f.name != "short_line_length"
    ]
    assert sorted(r for _, r in rules if (_, r) not in tested) == []


def test_good_text_passes_every_rule_set_at_published_defaults():
    for fn, params in (
        (gopher_quality, GopherQualityParams()),
        (gopher_repetition, GopherRepetitionParams()),
        (c4, C4Params()),
        (fineweb, FineWebParams()),
    ):
        assert run(fn, params, GOOD) is None, fn.__name__


def test_published_defaults():
    """The thresholds of the papers (Gopher appendix A, C4 §2.2, FineWeb §3.3)."""
    g = GopherQualityParams()
    assert (g.min_words, g.max_words, g.min_mean_word_length, g.max_mean_word_length) == (
        50, 100_000, 3, 10,
    )  # fmt: skip
    assert (g.max_symbol_word_ratio, g.max_bullet_lines_ratio, g.max_ellipsis_lines_ratio) == (
        0.1, 0.9, 0.3,
    )  # fmt: skip
    assert (g.min_alpha_words_ratio, g.min_stop_words) == (0.8, 2)
    r = GopherRepetitionParams()
    assert (r.max_dup_line_frac, r.max_dup_para_frac) == (0.3, 0.3)
    assert (r.max_dup_line_char_frac, r.max_dup_para_char_frac) == (0.2, 0.2)
    assert (r.max_top_2gram_frac, r.max_top_3gram_frac, r.max_top_4gram_frac) == (0.2, 0.18, 0.16)
    dup = [getattr(r, f"max_dup_{n}gram_frac") for n in range(5, 11)]
    assert dup == [0.15, 0.14, 0.13, 0.12, 0.11, 0.10]
    c = C4Params()
    assert (c.min_words_per_line, c.min_sentences, c.max_word_length) == (3, 5, 1000)
    f = FineWebParams()
    assert (f.min_line_punct_ratio, f.max_short_line_ratio, f.short_line_length) == (0.12, 0.67, 30)
    assert (f.max_dup_line_char_ratio, f.max_list_ratio) == (0.01, 0.3)


def test_c4_removes_bad_lines_and_keeps_the_rest():
    text = GOOD + "\nPlease enable JavaScript to use this site.\nHome.\nRead our privacy policy."
    scored = c4([Doc(text)], C4Params())
    assert scored.reasons == [None]
    assert scored.texts[0] == GOOD  # exactly the good lines, unchanged
    assert scored.columns["c4_lines_removed"][0] == 3
    assert scored.stats == {
        "lines_removed_javascript": 1,
        "lines_removed_min_words_per_line": 1,
        "lines_removed_policy": 1,
    }


def test_c4_cuts_citation_marks():
    text = GOOD.replace("older than the church.", "older than the church.[3]")
    scored = c4([Doc(text)], C4Params())
    assert scored.texts[0] == GOOD


def test_c4_badwords_from_a_word_list(tmp_path):
    (tmp_path / "en").write_text("crumbs\n")
    params = only(C4Params, "badwords", badwords=str(tmp_path))
    assert run(c4, params, GOOD) == "c4_badwords"
    assert run(c4, params, GOOD.replace("crumbs", "seeds")) is None
    assert run(c4, params, GOOD, lang="de") is None  # no German list in that folder


def test_gopher_measures_by_hand():
    text = "alpha beta gamma\n• delta epsilon...\n# zeta 42"
    scored = gopher_quality([Doc(text)], GopherQualityParams())
    cols = {k: v[0] for k, v in scored.columns.items()}
    assert cols["gopher_words"] == 7  # alpha beta gamma delta epsilon zeta 42
    assert cols["gopher_mean_word_length"] == pytest.approx(32 / 7)
    assert cols["gopher_symbol_word_ratio"] == pytest.approx(1 / 7)  # one "#", one ellipsis
    assert cols["gopher_bullet_lines_ratio"] == pytest.approx(1 / 3)
    assert cols["gopher_ellipsis_lines_ratio"] == pytest.approx(1 / 3)
    assert cols["gopher_alpha_words_ratio"] == pytest.approx(6 / 7)
    assert cols["gopher_stop_words"] == 0


def test_repetition_measures_by_hand():
    text = "one two\nthree four\none two"
    cols = gopher_repetition([Doc(text)], GopherRepetitionParams()).columns
    assert cols["gopher_dup_line_frac"][0] == pytest.approx(1 / 3)
    assert cols["gopher_dup_line_char_frac"][0] == pytest.approx(7 / len(text))
    # "one two" occurs twice among the 2-grams: 6 characters twice, over 21 word characters
    assert cols["gopher_top_2gram_frac"][0] == pytest.approx(12 / 21)


def reference_repetition(tokens: list[str], n: int) -> tuple[float, float]:
    """Gopher's top and duplicate n-gram fractions straight from the definition, with tuples."""
    total = sum(map(len, tokens))
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    counts: dict[tuple, int] = {}
    for g in grams:
        counts[g] = counts.get(g, 0) + 1
    top = 0.0
    if grams and max(counts.values()) > 1:
        best = max(counts.values())
        first = next(g for g in grams if counts[g] == best)
        top = sum(map(len, first)) * best / total
    covered = [False] * len(tokens)
    for i, g in enumerate(grams):
        if counts[g] > 1:
            for j in range(i, i + n):
                covered[j] = True
    dup = sum(len(w) for w, c in zip(tokens, covered, strict=True) if c) / total if total else 0
    return top, dup


@pytest.mark.shared_data
def test_vectorized_repetition_matches_the_definition():
    import gzip
    import json
    import random

    from filters.text import repetition_measures, words
    from samples.shared_data import DOLMA_FILE

    with gzip.open(DOLMA_FILE) as f:
        texts = [json.loads(line)["text"] for line in f]
    rng = random.Random(7)
    for _ in range(20):  # short texts from a tiny vocabulary: many repeats and ties
        texts.append(
            " ".join(rng.choice(["a", "bb", "ccc", "dd", "e"]) for _ in range(rng.randint(0, 40)))
        )
    for text in texts:
        tokens = words(text)
        got = repetition_measures(tokens, (2, 3, 4), (5, 6, 7, 8, 9, 10))
        for n in (2, 3, 4):
            assert got[f"top_{n}"] == pytest.approx(reference_repetition(tokens, n)[0]), (n, text)
        for n in (5, 6, 7, 8, 9, 10):
            expected = reference_repetition(tokens, n)[1] if len(tokens) >= 2 * n else 0.0
            assert got[f"dup_{n}"] == pytest.approx(expected), (n, text)
