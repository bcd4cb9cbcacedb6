"""An in-process rate-limit store that stays exact under concurrent requests.

limits' MemoryStorage is not: `get` drops a counter whose expiry is not set yet, and a
concurrent first `incr` sets it only after incrementing, so simultaneous attempts reset each
other's count (60 concurrent wrong passwords: 30 were checked against a budget of 10). Every
read and write here holds one lock. Redis (RATELIMIT_STORAGE_URI=redis://...) is atomic already.
"""

from __future__ import annotations

import threading

from limits.storage import MemoryStorage

# RATELIMIT_STORAGE_URI's default: memory:// is this store (config.py).
SCHEME = "exact-memory"


class ExactMemoryStorage(MemoryStorage):
    """MemoryStorage with one lock around every counter operation."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._exact = threading.RLock()

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        with self._exact:
            return super().incr(key, expiry, amount)

    def get(self, key: str) -> int:
        with self._exact:
            return super().get(key)

    def clear(self, key: str) -> None:
        with self._exact:
            super().clear(key)
