# TokenAudit. `make run` serves the demo; `make serve` runs gunicorn; `make test` runs the tests
# (all of them with CI=true).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed

.PHONY: run serve test lint install clean screenshots bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# The benchmark's peer (Django REST framework): bench-only, never in requirements.txt.
$(BENCH_STAMP): bench/requirements-bench.txt $(STAMP)
	$(BIN)/pip install --quiet -r bench/requirements-bench.txt
	touch $(BENCH_STAMP)

# The app's one mail sender (`send-mail --watch`) in the background of a server's recipe line.
# Ctrl-C, or the server ending, stops both: a non-interactive shell's background job ignores
# Ctrl-C's SIGINT, so the EXIT trap sends it SIGTERM and waits for it.
WITH_MAIL_SENDER = $(FLASK) send-mail --watch & sender=$$!; \
	trap 'kill $$sender 2>/dev/null; wait $$sender' EXIT; trap 'exit 130' INT TERM;

# The server and the mail sender build links in emails from the same address.
run: export EXTERNAL_URL = http://127.0.0.1:5000
run: $(STAMP)
	$(FLASK) db upgrade
	$(FLASK) seed-demo --if-empty
	@echo "Serving on http://127.0.0.1:5000 - sign in as admin@demo.example.com / demo-password"
	$(WITH_MAIL_SENDER) SESSION_COOKIE_SECURE=false $(FLASK) run --host 127.0.0.1 --port 5000

# Production-style: gunicorn with gunicorn.conf.py (settings from the environment; see README),
# and the mail sender beside it.
serve: $(STAMP)
	$(FLASK) db upgrade
	$(WITH_MAIL_SENDER) $(BIN)/gunicorn -c gunicorn.conf.py

# Quick by default: the tests marked slow (browsers, real servers, loads, timed races; the tiny
# benchmark run of tests/test_bench_smoke.py) run only with CI=true, as .ci/run sets it. The
# quick set runs on every core (pytest-xdist); the whole suite runs in one process, so that the
# load tests and races have the machine to themselves.
test: $(STAMP) $(BENCH_STAMP)
	$(BIN)/python -m pytest $(if $(filter true,$(CI)),,-m "not slow" -n auto)

# PNGs of the main pages and the open revoke dialog, for the README (needs /usr/bin/chromium).
screenshots: $(STAMP)
	$(BIN)/python scripts/screenshots.py

# The audit page at 100,000 tokens and what token authentication costs; writes docs/benchmarks.md.
# Loopback only; stops every server it starts. BENCH_ARGS="--postgres skip" for SQLite alone.
bench: $(STAMP) $(BENCH_STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache
