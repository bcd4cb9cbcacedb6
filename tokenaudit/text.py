"""Checks on text from clients, in one place."""

import unicodedata

# Control characters and lone surrogates: unprintable, and PostgreSQL refuses NUL outright.
_UNSTORABLE_CATEGORIES = ("Cc", "Cs")


def has_unstorable_characters(text: str) -> bool:
    """Whether the text holds characters that must not reach the database or a page."""
    return any(unicodedata.category(char) in _UNSTORABLE_CATEGORIES for char in text)


def without_unstorable_characters(text: str) -> str:
    """The text with those characters removed (for search boxes, where a refusal helps nobody)."""
    return "".join(
        char for char in text if unicodedata.category(char) not in _UNSTORABLE_CATEGORIES
    )


# Letters, marks, numbers, punctuation, symbols: what a reader can see. Format characters
# (U+200B zero width space, bidi controls) and separators alone make a name nobody can read.
_VISIBLE_CATEGORY_CLASSES = ("L", "N", "P", "S")
# Letters and symbols that draw nothing (Hangul fillers, the blank Braille pattern): the usual
# way to make a "blank" name past a category check.
_BLANK_GLYPHS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def has_visible_characters(text: str) -> bool:
    """Whether the text shows anything at all (not only spaces and invisible characters)."""
    return any(
        unicodedata.category(char)[0] in _VISIBLE_CATEGORY_CLASSES and char not in _BLANK_GLYPHS
        for char in text
    )


# Between the fields of a searchable text. Control characters never reach a search
# (without_unstorable_characters) nor a stored name, so no match spans two fields.
FIELD_SEPARATOR = "\x1f"


def fold(text: str) -> str:
    """What searches compare: Unicode case folding, so "STRASSE" finds "Straße", "ÅSA" "åsa"."""
    return text.casefold()


def searchable_text(*fields: str | None) -> str:
    """The folded text a search matches against: the fields, never one run into the next."""
    return FIELD_SEPARATOR.join(fold(field or "") for field in fields)
