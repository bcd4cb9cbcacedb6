"""Flask-Limiter, without its per-request work on the requests that its filters exempt.

Flask-Limiter hooks every request three times (resolve and check the limits, write the limit
headers, reset its per-request state), even one a request filter exempts: token-authenticated
API calls, which have no limits, paid ~60 µs of GET /api/v2/me/ for nothing
(docs/benchmark-changes.md). Here those hooks return at once for such a request. A request that
is not exempt goes through Flask-Limiter exactly as before. (No meta limits are configured: they
would otherwise apply to exempt requests too.) Each app also starts with its storage counted as
reachable.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from flask import Flask
from flask_limiter import Limiter


class SkippingLimiter(Limiter):
    """A Limiter whose hooks do nothing on a request that one of its request filters exempts."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._exempting: list[Callable[[], bool]] = []

    def request_filter(self, fn: Callable[[], bool]) -> Callable[[], bool]:
        """As Flask-Limiter's: `fn()` true exempts the request from every limit."""
        self._exempting.append(fn)
        return super().request_filter(fn)

    def _exempt(self) -> bool:
        return any(fn() for fn in self._exempting)

    def init_app(self, app: Flask) -> None:
        super().init_app(app)
        # The storage is new: Flask-Limiter would keep counting in its in-memory fallback if an
        # earlier app of this process (a test's) found its own storage unreachable.
        self._storage_dead = False
        for hooks, skipping in (
            (app.before_request_funcs.setdefault(None, []), self._skip_before),
            (app.after_request_funcs.setdefault(None, []), self._skip_after),
            (app.teardown_request_funcs.setdefault(None, []), self._skip_teardown),
        ):
            hooks[:] = [partial(skipping, hook) if self._owns(hook) else hook for hook in hooks]

    def _owns(self, hook: Callable) -> bool:
        """Whether `hook` is one of this limiter's own, not yet wrapped: a bound method of it,
        or a function of its class bound to it with partial (wrapped ones hold the hook)."""
        if isinstance(hook, partial):
            return hook.args[:1] == (self,)
        return getattr(hook, "__self__", None) is self

    def _skip_before(self, hook: Callable[[], object]) -> object:
        return None if self._exempt() else hook()

    def _skip_after(self, hook: Callable, response):
        return response if self._exempt() else hook(response)

    def _skip_teardown(self, hook: Callable, error: BaseException | None) -> None:
        if not self._exempt():
            hook(error)
