"""Text from clients and text about them, in one place: checks on names and searches, keeping
names from reordering the sentences they are put into, and the one log line format."""

import json
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
    """What searches compare: Unicode case folding, so "STRASSE" finds "Straße", "ÅSA" "åsa".

    Normalized (NFKC) before and after: "é" typed as one code point and as "e" plus a combining
    accent look the same and must match, as must full-width and plain letters; folding alone
    compared code points, so a name from one keyboard was not found from another.
    """
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def searchable_text(*fields: str | None) -> str:
    """The folded text a search matches against: the fields, never one run into the next."""
    return FIELD_SEPARATOR.join(fold(field or "") for field in fields)


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


# --- Names inside sentences --------------------------------------------------------------
# A name holding a right-to-left override (U+202E) or right-to-left letters can visually reorder
# the rest of a sentence it is put into ("revoked by ..." could read as something else). In HTML a
# <bdi> around the name prevents that; in plain text (activity messages, status messages, the
# text email) the Unicode isolate marks FSI ... PDI do the same.

FIRST_STRONG_ISOLATE = "\u2068"
POP_DIRECTIONAL_ISOLATE = "\u2069"
# Right-to-left letters, and the embedding, override and isolate controls.
_DIRECTIONAL = {"R", "AL", "LRE", "LRO", "RLE", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"}


def isolate(name: str) -> str:
    """The name in an isolate when it could reorder surrounding text; plain names unchanged."""
    if any(unicodedata.bidirectional(char) in _DIRECTIONAL for char in name):
        return FIRST_STRONG_ISOLATE + name + POP_DIRECTIONAL_ISOLATE
    return name


# --- Log lines ---------------------------------------------------------------------------

# Values that need no quoting in a log line.
PLAIN_VALUE = re.compile(r"[\w./:@%+-]*")


def logfmt(fields: dict[str, object]) -> str:
    """`key=value` pairs; values with spaces, quotes or control characters are JSON-quoted."""
    parts = []
    for key, value in fields.items():
        if value is None:
            continue
        text = str(value)
        parts.append(f"{key}={text if PLAIN_VALUE.fullmatch(text) else json.dumps(text)}")
    return " ".join(parts)
