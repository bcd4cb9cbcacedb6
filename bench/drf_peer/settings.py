"""Django settings of the DRF peer: only what TokenAuthentication and one view need."""

import os

SECRET_KEY = "benchmark only, not a secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "rest_framework.authtoken",
]
MIDDLEWARE: list[str] = []  # an API authenticated by token needs no session or CSRF middleware
ROOT_URLCONF = "bench.drf_peer.urls"
USE_TZ = True
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["DRF_PEER_DATABASE"],
        # TokenAudit's SQLite settings (tokenaudit/__init__.py): WAL, NORMAL sync, 5 s busy wait.
        "OPTIONS": {
            "init_command": (
                "PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL; "
                "PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; "
                "PRAGMA temp_store = MEMORY;"
            ),
        },
    }
}
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}
LOGGING_CONFIG = None
