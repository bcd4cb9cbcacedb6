"""`make bench`: the audit page and token authentication under gunicorn, on loopback only."""
