"""Checks on text from clients, in one place."""

import re
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


def has_visible_characters(text: str) -> bool:
    """Whether the text shows anything at all (not only spaces and invisible characters)."""
    return any(unicodedata.category(char)[0] in _VISIBLE_CATEGORY_CLASSES for char in text)


_DIGIT_RUN = re.compile(r"[0-9]+")
# The longest a natural sort key can get: casefolding can triple a character (ﬃ -> ffi), and
# each run of digits gains a 3-digit length.
NATURAL_KEY_LENGTH = 500


def natural_sort_key(name: str) -> str:
    """A key that sorts names as people read them: "job 2" before "job 10", case-insensitively.

    Each run of digits becomes its length (3 digits) then the digits without leading zeros, so
    comparing keys character by character compares the numbers by value. Written with the
    token, it lets the database sort by name with an index instead of sorting every row.
    """

    def by_value(run: re.Match) -> str:
        digits = run.group().lstrip("0") or "0"
        return f"{len(digits):03d}{digits}"

    return _DIGIT_RUN.sub(by_value, name.casefold())
