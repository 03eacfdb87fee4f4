"""Stop-word lists by language code, for the Gopher stop-word rule.

English uses Gopher's own eight words (Rae et al. 2021). Chinese and Japanese use short lists of
their most frequent function characters (words are single characters in those scripts, see
`filters.text`). Other languages use jusText's stop lists, which ship with trafilatura's
dependency `justext` (about 100 languages). A folder of files named by language code (one word a
line) can replace or extend them.
"""

from __future__ import annotations

import functools
from pathlib import Path

from corpus.errors import CorpusError

GOPHER_EN = frozenset(["the", "be", "to", "of", "and", "that", "have", "with"])
# the most frequent function characters; in these scripts each character is a word
ZH = frozenset("的了是在我有和就不人都一这也你他她它们个上来到说要会着没那么而与及或但")
JA = frozenset("のにはをたがでてとしれさもなかるいうこ")

# jusText's list names for the codes fastText's lid.176 reports
JUSTEXT_NAMES = {
    "af": "Afrikaans", "sq": "Albanian", "ar": "Arabic", "an": "Aragonese", "hy": "Armenian",
    "ast": "Asturian", "az": "Azerbaijani", "eu": "Basque", "be": "Belarusian", "bn": "Bengali",
    "bpy": "Bishnupriya_Manipuri", "bs": "Bosnian", "br": "Breton", "bg": "Bulgarian",
    "ca": "Catalan", "ceb": "Cebuano", "cv": "Chuvash", "hr": "Croatian", "cs": "Czech",
    "da": "Danish", "nl": "Dutch", "eo": "Esperanto", "et": "Estonian", "fi": "Finnish",
    "fr": "French", "gl": "Galician", "ka": "Georgian", "de": "German", "el": "Greek",
    "gu": "Gujarati", "ht": "Haitian", "he": "Hebrew", "hi": "Hindi", "hu": "Hungarian",
    "is": "Icelandic", "io": "Ido", "ig": "Igbo", "id": "Indonesian", "ga": "Irish",
    "it": "Italian", "jv": "Javanese", "kn": "Kannada", "kk": "Kazakh", "ko": "Korean",
    "ku": "Kurdish", "ky": "Kyrgyz", "la": "Latin", "lv": "Latvian", "lt": "Lithuanian",
    "lmo": "Lombard", "nds": "Low_Saxon", "lb": "Luxembourgish", "mk": "Macedonian",
    "ms": "Malay", "ml": "Malayalam", "mt": "Maltese", "mr": "Marathi", "nap": "Neapolitan",
    "ne": "Nepali", "new": "Newar", "no": "Norwegian_Bokmal", "nn": "Norwegian_Nynorsk",
    "oc": "Occitan", "fa": "Persian", "pms": "Piedmontese", "pl": "Polish", "pt": "Portuguese",
    "qu": "Quechua", "ro": "Romanian", "ru": "Russian", "sr": "Serbian", "sh": "Serbo_Croatian",
    "scn": "Sicilian", "sk": "Slovak", "sl": "Slovenian", "es": "Spanish", "su": "Sundanese",
    "sw": "Swahili", "sv": "Swedish", "tl": "Tagalog", "ta": "Tamil", "te": "Telugu",
    "tr": "Turkish", "tk": "Turkmen", "uk": "Ukrainian", "ur": "Urdu", "uz": "Uzbek",
    "vi": "Vietnamese", "vo": "Volapuk", "wa": "Walloon", "war": "Waray_Waray", "cy": "Welsh",
    "fy": "West_Frisian", "pnb": "Western_Panjabi", "yo": "Yoruba",
}  # fmt: skip


@functools.lru_cache(maxsize=256)
def stop_words(lang: str, folder: str | None = None) -> frozenset[str] | None:
    """The stop words of language `lang` (a code such as "en"), or None if there is no list.

    A file `folder/lang` (one word a line) takes precedence over the built-in lists.
    """
    if folder:
        path = Path(folder) / lang
        if path.is_file():
            try:
                return frozenset(
                    w.strip().lower() for w in path.read_text("utf-8").splitlines() if w.strip()
                )
            except (OSError, UnicodeDecodeError) as exc:
                raise CorpusError(f"cannot read stop words {path}: {exc}") from None
    if lang == "en":
        return GOPHER_EN
    if lang == "zh":
        return ZH
    if lang == "ja":
        return JA
    name = JUSTEXT_NAMES.get(lang)
    if name is None:
        return None
    try:
        import justext
    except ImportError:  # trafilatura depends on it, but a user may run without it
        return None
    return frozenset(justext.get_stoplist(name))
