"""The API token format (SPEC section 3): generate, parse, checksum and digest. Pure functions."""

from __future__ import annotations

import hashlib
import re
import secrets
import string
import zlib
from dataclasses import dataclass

TOKEN_PREFIX = "tka_"
PUBLIC_ID_LENGTH = 8
SECRET_LENGTH = 32
CHECKSUM_LENGTH = 6
TOKEN_LENGTH = len(TOKEN_PREFIX) + PUBLIC_ID_LENGTH + SECRET_LENGTH + CHECKSUM_LENGTH  # 50
DISPLAY_PREFIX_LENGTH = len(TOKEN_PREFIX) + PUBLIC_ID_LENGTH  # 12

# What a whole token value looks like in free text (for masking it in logs, or secret scanners).
TOKEN_PATTERN = re.compile(
    re.escape(TOKEN_PREFIX) + f"[0-9A-Za-z]{{{TOKEN_LENGTH - len(TOKEN_PREFIX)}}}"
)

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_BASE62_SET = frozenset(BASE62)


@dataclass(frozen=True)
class NewToken:
    """A freshly generated token: the value is shown once, prefix and digest are stored."""

    value: str
    prefix: str
    digest: str


# Random bytes 0-247 (4 x 62) map evenly onto the 62 digits; 248-255 are dropped to avoid bias.
_BYTE_TO_DIGIT = bytes(ord(BASE62[byte % 62]) for byte in range(248)) + bytes(8)
_BIASED_BYTES = bytes(range(248, 256))


def _random_base62(length: int) -> str:
    """Uniformly random base62 text of exactly `length` characters."""
    digits = b""
    while len(digits) < length:
        digits += secrets.token_bytes(length * 2).translate(_BYTE_TO_DIGIT, _BIASED_BYTES)
    return digits[:length].decode("ascii")


def base62(number: int) -> str:
    """Write a non-negative integer in base62 (0-9, A-Z, a-z)."""
    digits = []
    while True:
        number, remainder = divmod(number, 62)
        digits.append(BASE62[remainder])
        if number == 0:
            return "".join(reversed(digits))


def checksum(body: str) -> str:
    """CRC32 of the token body in base62, left-padded to six characters."""
    return base62(zlib.crc32(body.encode("ascii"))).rjust(CHECKSUM_LENGTH, "0")


def digest(value: str) -> str:
    """SHA-256 of the whole token value, hex: what the database keeps."""
    return hashlib.sha256(value.encode("ascii")).hexdigest()


def random_prefix() -> str:
    """A new random public prefix: `tka_` and the public id."""
    return TOKEN_PREFIX + _random_base62(PUBLIC_ID_LENGTH)


def generate_token() -> NewToken:
    """Create a new random token value with its public prefix and digest."""
    prefix = random_prefix()
    body = prefix + _random_base62(SECRET_LENGTH)
    value = body + checksum(body)
    return NewToken(value=value, prefix=prefix, digest=digest(value))


def parse_token(value: str) -> str | None:
    """Return the token's public prefix if the value is well formed with a valid checksum.

    Anything else (typos, truncation, strings that merely look like tokens) gives None, so it
    can be refused without touching the database.
    """
    if len(value) != TOKEN_LENGTH or not value.startswith(TOKEN_PREFIX):
        return None
    rest = value[len(TOKEN_PREFIX) :]
    if not set(rest) <= _BASE62_SET:
        return None
    body, given_checksum = value[:-CHECKSUM_LENGTH], value[-CHECKSUM_LENGTH:]
    if checksum(body) != given_checksum:
        return None
    return value[:DISPLAY_PREFIX_LENGTH]


def whole_token_in(text: str) -> str | None:
    """The first well-formed token value inside `text` (a paste with text around it), if any."""
    for match in TOKEN_PATTERN.finditer(text):
        if parse_token(match.group(0)) is not None:
            return match.group(0)
    return None


def mask_token_values(text: str) -> str:
    """Replace anything that looks like a whole token value by its public prefix."""
    return TOKEN_PATTERN.sub(
        lambda match: match.group(0)[:DISPLAY_PREFIX_LENGTH] + "…[masked]", text
    )
