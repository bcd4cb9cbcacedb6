"""Keeping names chosen by users from reordering the text around them.

A name holding a right-to-left override (U+202E) or right-to-left letters can visually reorder
the rest of a sentence it is put into ("revoked by ..." could read as something else). In HTML a
<bdi> around the name prevents that; in plain text (activity messages, status messages, the
text email) the Unicode isolate marks FSI ... PDI do the same.
"""

from __future__ import annotations

import unicodedata

FIRST_STRONG_ISOLATE = "\u2068"
POP_DIRECTIONAL_ISOLATE = "\u2069"
# Right-to-left letters, and the embedding, override and isolate controls.
_DIRECTIONAL = {"R", "AL", "LRE", "LRO", "RLE", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"}


def isolate(name: str) -> str:
    """The name in an isolate when it could reorder surrounding text; plain names unchanged."""
    if any(unicodedata.bidirectional(char) in _DIRECTIONAL for char in name):
        return FIRST_STRONG_ISOLATE + name + POP_DIRECTIONAL_ISOLATE
    return name
