"""The token format of SPEC section 3."""

import re
import zlib

from tokenaudit.tokens import BASE62, base62, checksum, digest, generate_token, parse_token

TOKEN_PATTERN = re.compile(r"^tka_[0-9A-Za-z]{8}[0-9A-Za-z]{32}[0-9A-Za-z]{6}$")


def test_generated_token_has_the_documented_shape():
    new = generate_token()
    assert TOKEN_PATTERN.match(new.value)
    assert len(new.value) == 50
    assert new.prefix == new.value[:12]
    assert new.digest == digest(new.value)
    assert len(new.digest) == 64 and new.digest != new.value


def test_checksum_is_crc32_in_base62_padded_to_six():
    body = "tka_abcdefgh" + "A" * 32
    crc = zlib.crc32(body.encode())
    # Decode the base62 checksum independently and compare with the CRC.
    value = 0
    for char in checksum(body):
        value = value * 62 + BASE62.index(char)
    assert value == crc
    assert len(checksum(body)) == 6
    assert base62(0) == "0" and base62(61) == "z" and base62(62) == "10"


def test_tokens_are_unique_and_random():
    values = {generate_token().value for _ in range(2000)}
    assert len(values) == 2000


def test_parse_accepts_a_real_token():
    new = generate_token()
    assert parse_token(new.value) == new.prefix


def test_parse_rejects_typos_truncation_and_lookalikes():
    value = generate_token().value
    flipped = value[:20] + ("a" if value[20] != "a" else "b") + value[21:]
    for bad in [
        "",
        value[:-1],
        value + "x",
        flipped,
        "tkb_" + value[4:],
        value.lower() if value.lower() != value else value.upper(),
        value[:30] + "!" + value[31:],
        "tka_" + "0" * 46,
    ]:
        assert parse_token(bad) is None, bad
