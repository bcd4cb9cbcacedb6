"""Who may report leaked tokens: the trusted keys file, and checking a report's signature.

The file is in the format of GitHub's `GET /meta/public_keys/secret_scanning` answer. It is read
again whenever it changes on disk, so rotating the keys needs no restart (docs/secret-scanning.md).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key

KEY_ID_HEADER = "GITHUB-PUBLIC-KEY-IDENTIFIER"
SIGNATURE_HEADER = "GITHUB-PUBLIC-KEY-SIGNATURE"


class KeysFileProblem(Exception):
    """The keys file is missing, unreadable or not in the expected format."""


@dataclass(frozen=True)
class _KeysFile:
    stamp: tuple[int, int, int]  # inode, size, modification time: changes when it is replaced
    keys: dict[str, ec.EllipticCurvePublicKey]


_loaded: dict[str, _KeysFile] = {}


def _parse_keys(data: bytes) -> dict[str, ec.EllipticCurvePublicKey]:
    """Every key in the file, current and previous alike: reports may be signed by either."""
    try:
        entries = json.loads(data)["public_keys"]
        keys = {}
        for entry in entries:
            key_id = entry["key_identifier"]
            # The header names a key by this string: no null read as "None", no two keys.
            if not isinstance(key_id, str) or not key_id or key_id in keys:
                raise KeysFileProblem(f"key identifier {key_id!r} is not a string of its own")
            key = load_pem_public_key(entry["key"].encode("ascii"))
            if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
                raise KeysFileProblem(f"key {key_id!r} is not an ECDSA P-256 key")
            keys[key_id] = key
    except (
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        RecursionError,
        UnsupportedAlgorithm,
    ) as error:
        raise KeysFileProblem(f"not a public_keys file: {error!r}") from None
    return keys


def trusted_keys(path: str) -> dict[str, ec.EllipticCurvePublicKey]:
    """The keys in the file at `path` by key identifier, read again when the file changes."""
    try:
        status = os.stat(path)
        stamp = (status.st_ino, status.st_size, status.st_mtime_ns)
        if (cached := _loaded.get(path)) is not None and cached.stamp == stamp:
            return cached.keys
        with open(path, "rb") as file:
            data = file.read()
    except OSError as error:
        raise KeysFileProblem(f"cannot read {path}: {error.strerror}") from None
    keys = _parse_keys(data)
    _loaded[path] = _KeysFile(stamp, keys)
    return keys


def signature_problem(
    keys: dict[str, ec.EllipticCurvePublicKey],
    key_id: str | None,
    signature: str | None,
    body: bytes,
) -> str | None:
    """Why the body is not signed by one of the keys (for the log), or None when it is."""
    if not key_id or not signature:
        return "missing signature headers"
    key = keys.get(key_id)
    if key is None:
        return "unknown key identifier"
    try:
        der_signature = base64.b64decode(signature, validate=True)
        key.verify(der_signature, body, ec.ECDSA(hashes.SHA256()))
    except (binascii.Error, ValueError, InvalidSignature):
        return "bad signature"
    return None
