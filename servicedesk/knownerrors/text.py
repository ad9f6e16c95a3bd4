"""Stemming English and Russian text into search terms (issue 4).

SQLite's FTS5 has no Russian stemmer and PostgreSQL's language
configurations differ by installation, so we stem in Python (Snowball, the
same algorithms PostgreSQL ships) and store the stems as plain
space-separated words. Both databases then index that column with their
simplest tokenizer ('simple' configuration, FTS5 unicode61), and a query is
an OR of the same stems: the two databases see identical terms.

Each word is stemmed by its script: Cyrillic words with the Russian stemmer,
Latin words with the English one; codes with digits (E-1042, 0x80070005)
are kept whole, without separators, so "E1042" and "e-1042" meet.
"""

# ruff: noqa: RUF001  (Russian text is meant to be Cyrillic)

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

import snowballstemmer

# Words joined by "-", "_", "." or "/" stay one token ("e-mail", "mail-01",
# "0x8004.0115") and also give their parts (see tokens()).
_TOKEN = re.compile(r"[0-9a-zа-яё]+(?:[-_./][0-9a-zа-яё]+)*")
_SEPARATORS = re.compile(r"[-_./]")
_CYRILLIC = re.compile(r"[а-я]")
_LATIN = re.compile(r"[a-z]")
_DIGIT = re.compile(r"[0-9]")

MAX_TERM_LENGTH = 64

# Words too common in incident texts to tell one error from another. Kept
# short on purpose: Snowball stems are compared, so one form per word is
# enough after stemming.
ENGLISH_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "cannot",
        "cant",
        "could",
        "did",
        "do",
        "does",
        "doesnt",
        "dont",
        "for",
        "from",
        "get",
        "gets",
        "got",
        "had",
        "has",
        "have",
        "he",
        "her",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "isnt",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "please",
        "she",
        "so",
        "some",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "too",
        "up",
        "us",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "why",
        "will",
        "with",
        "wont",
        "would",
        "you",
        "your",
        "after",
        "again",
        "all",
        "also",
        "any",
        "because",
        "before",
        "being",
        "both",
        "each",
        "few",
        "just",
        "more",
        "most",
        "only",
        "other",
        "own",
        "same",
        "should",
        "than",
        "very",
        "am",
        "since",
        "still",
        "any",
        "anymore",
        "keeps",
        "keep",
        "now",
        "today",
        "yesterday",
        "morning",
        "hi",
        "hello",
        "thanks",
    ]
)
RUSSIAN_STOP = frozenset(
    [
        "а",
        "без",
        "более",
        "бы",
        "был",
        "была",
        "были",
        "было",
        "быть",
        "в",
        "вам",
        "вас",
        "весь",
        "во",
        "вот",
        "все",
        "всего",
        "всех",
        "вы",
        "где",
        "да",
        "даже",
        "для",
        "до",
        "его",
        "ее",
        "если",
        "есть",
        "еще",
        "же",
        "за",
        "здесь",
        "и",
        "из",
        "или",
        "им",
        "их",
        "к",
        "как",
        "ко",
        "когда",
        "кто",
        "ли",
        "либо",
        "мне",
        "может",
        "мы",
        "на",
        "над",
        "не",
        "него",
        "нее",
        "нет",
        "ни",
        "них",
        "но",
        "ну",
        "о",
        "об",
        "однако",
        "он",
        "она",
        "они",
        "оно",
        "от",
        "очень",
        "по",
        "под",
        "при",
        "с",
        "со",
        "так",
        "также",
        "такой",
        "там",
        "те",
        "тем",
        "то",
        "того",
        "тоже",
        "той",
        "только",
        "том",
        "ты",
        "у",
        "уже",
        "хотя",
        "чего",
        "чей",
        "чем",
        "что",
        "чтобы",
        "чье",
        "чья",
        "эта",
        "эти",
        "это",
        "я",
        "сегодня",
        "вчера",
        "утра",
        "утром",
        "опять",
        "снова",
        "всё",
        "ещё",
        "уже",
        "пожалуйста",
        "здравствуйте",
        "спасибо",
        "меня",
        "мой",
        "моя",
        "мою",
        "у",
        "нас",
        "наш",
        "наша",
    ]
)


@lru_cache(maxsize=1)
def _stemmers() -> tuple[snowballstemmer.stemmer, snowballstemmer.stemmer]:
    return snowballstemmer.stemmer("english"), snowballstemmer.stemmer("russian")


@lru_cache(maxsize=1)
def _stop_stems() -> frozenset[str]:
    english, russian = _stemmers()
    return frozenset(
        {english.stemWord(w) for w in ENGLISH_STOP} | {russian.stemWord(w) for w in RUSSIAN_STOP}
        | ENGLISH_STOP | RUSSIAN_STOP
    )  # fmt: skip


def normalise(text: str) -> str:
    return text.lower().replace("ё", "е")


@lru_cache(maxsize=100_000)
def _stem_word(word: str) -> str | None:
    """One word's search term, or None for words that carry no meaning here."""
    english, russian = _stemmers()
    if _DIGIT.search(word):
        # Codes and numbers: keep whole; lone short numbers ("2", "10") are noise.
        if word.isdigit() and len(word) < 3:
            return None
        return word[:MAX_TERM_LENGTH]
    if len(word) < 2:
        return None
    if _CYRILLIC.search(word) and not _LATIN.search(word):
        if word in RUSSIAN_STOP:
            return None
        stem = russian.stemWord(word)
    elif _LATIN.search(word) and not _CYRILLIC.search(word):
        if word in ENGLISH_STOP:
            return None
        stem = english.stemWord(word)
    else:
        stem = word  # mixed scripts: a code or a typo; keep as written
    if stem in _stop_stems() or len(stem) < 2:
        return None
    return stem[:MAX_TERM_LENGTH]


def words(text: str) -> list[str]:
    """The raw words of ``text``: joined forms and, for joined ones, their parts."""
    result: list[str] = []
    for match in _TOKEN.finditer(normalise(text)):
        token = match.group(0)
        if _SEPARATORS.search(token):
            result.append(_SEPARATORS.sub("", token))
            result.extend(p for p in _SEPARATORS.split(token) if p)
        else:
            result.append(token)
    return result


def stems(text: str) -> list[str]:
    """Search terms of ``text`` in order, with repeats (term frequency counts)."""
    result = []
    for word in words(text):
        stem = _stem_word(word)
        if stem is not None:
            result.append(stem)
    return result


def stem_set(text: str) -> set[str]:
    return set(stems(text))


def stem_counts(text: str) -> Counter[str]:
    return Counter(stems(text))


def index_text(parts: Iterable[str]) -> str:
    """The stored, indexed form: stems separated by spaces."""
    return " ".join(s for part in parts for s in stems(part))


def normalise_code(code: str) -> str:
    """An error code as compared: lower case, no spaces or separators."""
    return re.sub(r"[\s\-_./]", "", normalise(code))[:MAX_TERM_LENGTH]
