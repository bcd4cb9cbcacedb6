"""Settings from the environment (SPEC section 9)."""

import math
import os
import secrets
import time
from pathlib import Path

from . import rate_limit_storage
from .external_links import check_external_url

# Shorter than this, a key in the file was not written by this app, and is too weak to sign
# sessions with (the app writes 64 hex digits).
MIN_SECRET_KEY_LENGTH = 32


def _instance_secret_key(instance_path: Path) -> str:
    """Return the development secret key, generating it once into instance/.

    Created with O_EXCL and mode 0600: never readable by others, not even for a moment, and of
    several workers starting together only one writes it; the others read what it wrote.
    """
    key_file = instance_path / "secret_key"
    try:
        instance_path.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(key_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return _read_secret_key(key_file)
    except OSError as error:
        raise InvalidSetting(
            f"cannot create {key_file} ({error.strerror}): set SECRET_KEY instead"
        ) from error
    key = secrets.token_hex(32)
    with os.fdopen(descriptor, "w") as file:
        file.write(key)
    return key


def _read_secret_key(key_file: Path) -> str:
    """The key another process wrote, waiting a moment if it has created the file but not yet
    written it. A file that is not such a key is refused (InvalidSetting), never used."""
    remedy = "delete it to generate a new one, or set SECRET_KEY"
    for _ in range(100):
        try:
            key = key_file.read_text().strip()
        except UnicodeDecodeError:
            raise InvalidSetting(f"{key_file} is not text: {remedy}") from None
        except OSError as error:
            raise InvalidSetting(f"cannot read {key_file} ({error.strerror}): {remedy}") from None
        if key:
            break
        time.sleep(0.01)
    else:
        raise InvalidSetting(f"{key_file} is empty: {remedy}")
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise InvalidSetting(
            f"{key_file} holds {len(key)} characters, too short a key to sign sessions "
            f"(at least {MIN_SECRET_KEY_LENGTH}): {remedy}"
        )
    return key


class InvalidSetting(ValueError):
    """An environment variable holds a value the app cannot work with (wsgi.py reports it)."""


def _env_number(name: str, default: float, low: float, high: float, *, low_open: bool = False):
    """The variable as a number from low to high (above low when low_open), its default when
    unset or empty; else InvalidSetting naming it, so a bad value stops the app at start rather
    than fail on every email or request later. Whole numbers when the default is an int."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text) if isinstance(default, int) else float(text)
    except ValueError:
        value = math.nan  # in no range
    if not (low < value <= high if low_open else low <= value <= high):
        kind = "a whole number" if isinstance(default, int) else "a number"
        bounds = f"above {low:g}" if low_open else f"from {low:g}"
        raise InvalidSetting(f"{name} must be {kind} {bounds} to {high:g}, not {text!r}")
    return value


def _mail_settings() -> dict:
    """MAIL_* from the environment, refused at start when they cannot work together."""
    settings = {
        "MAIL_SERVER": os.environ.get("MAIL_SERVER") or None,
        "MAIL_PORT": _env_number("MAIL_PORT", 25, 1, 65535),
        "MAIL_USE_TLS": _env_bool("MAIL_USE_TLS"),
        "MAIL_USE_SSL": _env_bool("MAIL_USE_SSL"),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD") or None,
        "MAIL_DEFAULT_SENDER": os.environ.get("MAIL_DEFAULT_SENDER")
        or "TokenAudit <no-reply@tokenaudit.localhost>",
        # Flask-Mail would otherwise drop every message when TESTING is on; tests use a real server.
        "MAIL_SUPPRESS_SEND": False,
        # Seconds to wait on the SMTP server before the message stays in the outbox (0 would
        # be a non-blocking socket, which smtplib refuses). At most 30: a delivery makes about
        # six round trips, each allowed this long, and must end well within the 5 minutes after
        # which another sender takes its claim back (outbox.STALE_CLAIM) and sends it again.
        "MAIL_TIMEOUT": _env_number("MAIL_TIMEOUT", 10.0, 0, 30, low_open=True),
        # A failed message waits MAIL_RETRY_BACKOFF x 2^(attempts-1) seconds before its next try.
        "MAIL_RETRY_BACKOFF": _env_number("MAIL_RETRY_BACKOFF", 30.0, 0, 86400),
    }
    if settings["MAIL_USE_TLS"] and settings["MAIL_USE_SSL"]:
        raise InvalidSetting(
            "MAIL_USE_TLS (STARTTLS) and MAIL_USE_SSL (TLS from the first byte) exclude each "
            "other: set one of them"
        )
    if bool(settings["MAIL_USERNAME"]) != bool(settings["MAIL_PASSWORD"]):
        raise InvalidSetting("MAIL_USERNAME and MAIL_PASSWORD are set together or not at all")
    return settings


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _cookies_need_https() -> bool:
    """Secure cookies unless development: SESSION_COOKIE_SECURE decides, else FLASK_DEBUG off.

    `make run` serves plain http on 127.0.0.1 and sets SESSION_COOKIE_SECURE=false; gunicorn
    (gunicorn.conf.py) and any other deployment get Secure cookies unless told otherwise.
    """
    return _env_bool("SESSION_COOKIE_SECURE", default=not _env_bool("FLASK_DEBUG"))


def _rate_limit_storage(uri: str | None) -> str:
    """Unset or memory:// (the default): counted in the app's database, one count shared by
    every worker and server (rate_limit_storage.py). Else as given: redis://host:6379/0."""
    if not uri or uri == "memory://":
        return f"{rate_limit_storage.SCHEME}://"
    return uri


def in_memory_fallback(storage_uri: str) -> bool:
    """Whether to count in each process's memory while the rate-limit storage is unreachable:
    yes for Redis (rather than refuse every sign-in with a 500 until it is back), not for the
    database (without it nobody signs in anyway, and a moment's lock wait would split the
    budget between the workers)."""
    return not storage_uri.startswith(f"{rate_limit_storage.SCHEME}:")


def load_config(instance_path: Path) -> dict:
    """Build the Flask config mapping from environment variables."""
    cookies_need_https = _cookies_need_https()
    database_url = os.environ.get("DATABASE_URL") or (
        f"sqlite:///{instance_path / 'tokenaudit.db'}"
    )
    # SQLAlchemy wants the psycopg 3 driver named explicitly.
    if database_url.startswith(("postgres://", "postgresql://")):
        database_url = "postgresql+psycopg://" + database_url.split("://", 1)[1]
    return {
        "SECRET_KEY": os.environ.get("SECRET_KEY") or _instance_secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": database_url,
        # Where users reach the app: every link in an email starts with it (never the Host
        # header of the request that caused the email; emails are also sent outside any request,
        # by `flask send-mail`). `make run` serves it on 127.0.0.1:5000.
        "EXTERNAL_URL": check_external_url(
            os.environ.get("EXTERNAL_URL") or "http://127.0.0.1:5000"
        ),
        **_mail_settings(),
        # Bodies larger than this are refused with 413 before any parsing.
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": cookies_need_https,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": cookies_need_https,
        "WTF_CSRF_TIME_LIMIT": None,
        "REAUTH_SECONDS": 600,
        # A session unused this long ends on the server (SPEC 13); 12 hours by default.
        "SESSION_IDLE_MINUTES": _env_number("SESSION_IDLE_MINUTES", 720, 1, 525600),
        "BCRYPT_ROUNDS": 12,
        "RATELIMIT_STORAGE_URI": _rate_limit_storage(os.environ.get("RATELIMIT_STORAGE_URI")),
        # Said explicitly: the one Limiter object otherwise keeps what the previous app set.
        "RATELIMIT_ENABLED": True,
        # Proxies in front that set X-Forwarded-For/-Proto: rate limits and logs then see the
        # client's address rather than the proxy's. 0 when clients connect directly.
        "TRUSTED_PROXY_COUNT": _env_number("TRUSTED_PROXY_COUNT", 0, 0, 10),
        # Secret scanners' public keys (GitHub's public_keys JSON); unset, reports are refused.
        "SECRET_SCANNING_KEYS_FILE": os.environ.get("SECRET_SCANNING_KEYS_FILE") or None,
        # Per client address, counted before the signature is checked, so forged reports too.
        "SECRET_SCANNING_RATE_LIMIT": os.environ.get("SECRET_SCANNING_RATE_LIMIT")
        or "60 per minute",
    }
