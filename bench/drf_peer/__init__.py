"""The peer `make bench` measures token authentication against: a minimal Django REST framework
app whose GET /api/v2/me/ authenticates with DRF's TokenAuthentication, on SQLite with the same
connection settings as TokenAudit, served by the same gunicorn command. Bench-only: its
dependencies are in bench/requirements-bench.txt, never in requirements.txt."""
