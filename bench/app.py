"""The app `make bench` serves: the product's own app with the benchmark's probe added.

The product never registers the probe (it shows any token owner's data to anyone); only this
module does, and only the benchmark's gunicorn calls this factory (`bench.app:create_bench_app()`).
"""

from flask import Flask

from bench.probe import bp as probe_bp
from tokenaudit import create_app


def create_bench_app(test_config: dict | None = None) -> Flask:
    app = create_app(test_config)
    app.register_blueprint(probe_bp)
    return app
