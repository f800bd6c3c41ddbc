"""Words of a message for search, the same on the embedded database and on MongoDB.

Neither a text index (the embedded database has none) nor a language analyser: a message's
words are stored with it (`Message.search_terms`, indexed), and a query is "messages whose
terms include all of the query's terms". The same function makes the terms of a message and of
a query, so they always agree:

- Text is folded before it is cut: compatibility forms (halfwidth `ｶ`, fullwidth letters,
  `ﬁ`) to plain ones, case folded (`Straße` → `strasse`), and the accents of Latin, Greek and
  Cyrillic letters dropped (`café` → `cafe`); marks that change a letter in other scripts
  (Japanese voicing marks, Devanagari vowel signs) are kept.
- A word is a run of letters and digits. Chinese, Japanese and Korean are written without
  spaces between words (Korean attaches particles to them: 학교에서, "at school"), so a run of
  their characters gives each character and each pair of neighbours (학, 교, 에, 서, 학교, 교에,
  에서): the query 학교 finds 학교에서. Queries of such runs need their pairs, or the character
  alone for a one-character query.
- Terms are at most 64 characters (longer words are cut, in the text and in the query alike) and
  a message keeps its first 1,000 distinct terms.

Highlights are ranges of the message's text in UTF-16 code units, as JavaScript (and Java,
Kotlin, C#) index strings.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

TERM_MAX_LENGTH = 64
TERMS_MAX = 1000
QUERY_TERMS_MAX = 16

# Combining marks of Latin, Greek and Cyrillic accents (U+0300-U+036F).
ACCENTS = range(0x300, 0x370)


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return (
        0x3040 <= code <= 0x30FF  # Hiragana, Katakana
        or 0x3400 <= code <= 0x4DBF  # CJK Extension A
        or 0x4E00 <= code <= 0x9FFF  # CJK Unified Ideographs
        or 0xF900 <= code <= 0xFAFF  # CJK Compatibility Ideographs
        or 0xAC00 <= code <= 0xD7AF  # Hangul syllables
        or 0x1100 <= code <= 0x11FF  # Hangul Jamo
        or 0x3130 <= code <= 0x318F  # Hangul compatibility Jamo
        or 0x20000 <= code <= 0x2FFFF  # CJK Extensions B and later
    )


def _fold(char: str) -> str:
    """The character as search compares it (see the module docstring)."""
    if _is_cjk(char):
        return char
    folded = unicodedata.normalize("NFKD", char)
    folded = "".join(c for c in folded if ord(c) not in ACCENTS).casefold()
    if any(_is_cjk(c) for c in folded):  # a halfwidth katakana became a full one
        return unicodedata.normalize("NFC", folded)
    return folded


def _tokens(text: str) -> Iterator[tuple[str, int, int, bool, list[int]]]:
    """(folded word or CJK run, start, end in code points of `text`, is CJK, and for each
    character of the folded word the index in `text` of the character it comes from: folding
    may turn one character into several, or into none)."""
    word: list[str] = []
    origins: list[int] = []
    start, cjk = 0, False
    for index, char in enumerate(text):
        folded = _fold(char)
        if unicodedata.category(char).startswith("M") and word:
            word.append(folded)  # a mark belongs to the letter before it
            origins.extend([index] * len(folded))
            continue
        kind = _is_cjk(folded[0]) if folded.isalnum() else None
        if word and kind is not cjk:
            yield "".join(word), start, index, cjk, origins
            word, origins = [], []
        if kind is not None:
            if not word:
                start, cjk = index, kind
            word.append(folded)
            origins.extend([index] * len(folded))
    if word:
        yield "".join(word), start, len(text), cjk, origins


def _cjk_terms(run: str) -> list[str]:
    return [*run, *(run[i : i + 2] for i in range(len(run) - 1))]


def message_terms(text: str) -> list[str]:
    """The terms a message is found by, distinct, at most TERMS_MAX."""
    terms: dict[str, None] = {}
    for word, _start, _end, cjk, _origins in _tokens(text):
        for term in _cjk_terms(word) if cjk else [word[:TERM_MAX_LENGTH]]:
            terms[term] = None
            if len(terms) >= TERMS_MAX:
                return list(terms)
    return list(terms)


def query_terms(query: str) -> list[str]:
    """The terms a message must all have to match `query`: each word, and for a run of CJK
    characters its pairs (or the character alone). At most QUERY_TERMS_MAX."""
    terms: dict[str, None] = {}
    for word, _start, _end, cjk, _origins in _tokens(query):
        if cjk:
            pairs = [word[i : i + 2] for i in range(len(word) - 1)]
            wanted = pairs or [word]
        else:
            wanted = [word[:TERM_MAX_LENGTH]]
        for term in wanted:
            terms[term] = None
    return list(terms)[:QUERY_TERMS_MAX]


def _utf16(text: str) -> list[int]:
    """UTF-16 offset of each code point index of `text` (and of its end)."""
    offsets, position = [0], 0
    for char in text:
        position += 2 if ord(char) > 0xFFFF else 1
        offsets.append(position)
    return offsets


def match_ranges(text: str, terms: list[str]) -> list[list[int]]:
    """Where the query's `terms` are in `text`: `[[start, end], ...]` in UTF-16 code units,
    sorted, overlapping ranges merged."""
    wanted = set(terms)
    spans: list[tuple[int, int]] = []
    for word, start, end, cjk, origins in _tokens(text):
        if not cjk:
            if word[:TERM_MAX_LENGTH] in wanted:
                spans.append((start, end))
            continue
        for i in range(len(word)):
            for size in (1, 2):
                if i + size <= len(word) and word[i : i + size] in wanted:
                    spans.append((origins[i], origins[i + size - 1] + 1))
    offsets = _utf16(text)
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [[offsets[start], offsets[end]] for start, end in merged]
