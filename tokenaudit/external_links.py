"""Links for emails: built from EXTERNAL_URL, never from the request's Host header (SPEC 13).

A request can claim any Host; an email link built from it would send the owner to whoever sent
that request. Every email template gets its links from `external_url`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app


class InvalidExternalUrl(ValueError):
    """EXTERNAL_URL is not an absolute http(s) address."""


def check_external_url(url: str) -> str:
    """The address, without a trailing slash, if it is absolute http(s); else InvalidExternalUrl."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise InvalidExternalUrl(
            f"EXTERNAL_URL must be an absolute http(s) address such as "
            f"https://tokens.example.com, not {url!r}"
        )
    return url.rstrip("/")


def external_url(endpoint: str, **values: object) -> str:
    """The absolute address of `endpoint` under EXTERNAL_URL (which may include a path prefix)."""
    base = urlsplit(current_app.config["EXTERNAL_URL"])
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme
    )
    return adapter.build(endpoint, values, force_external=True)
