# TokenAudit. `make run` serves the demo; `make test` runs every test. Both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
STAMP := $(VENV)/.installed

.PHONY: run test lint install clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(FLASK) db upgrade
	$(FLASK) seed-demo --if-empty
	@echo "Serving on http://127.0.0.1:5000 - sign in as admin@demo.example.com / demo-password"
	$(FLASK) run --host 127.0.0.1 --port 5000

test: $(STAMP)
	$(BIN)/python -m pytest

# The audit page at 100,000 tokens and what token authentication costs; writes docs/benchmarks.md.
# Loopback only; stops every server it starts. BENCH_ARGS="--postgres skip" for SQLite alone.
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache
