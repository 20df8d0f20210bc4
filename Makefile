# The README's commands. Each target creates or updates the virtualenv itself.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_ENV := DEBUG=1

.PHONY: run test bench lint fmt venv clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

## make run: the app on the embedded default (SQLite, no servers) with demo data, plus a Celery
## worker and beat (Procfile.dev); Ctrl-C stops them all
run: venv
	$(DEV_ENV) $(BIN)/python manage.py migrate --noinput
	$(DEV_ENV) $(BIN)/python manage.py seed_demo
	PATH="$(abspath $(BIN)):$$PATH" $(DEV_ENV) $(BIN)/honcho -f Procfile.dev start -p 8000

## make test: the whole suite on PostgreSQL + Redis, then the embedded subset on SQLite
test: venv
	$(BIN)/pytest
	TEST_DATABASE=sqlite $(BIN)/pytest -m sqlite

## make bench: benchmark scenarios against PostgreSQL + Redis + gunicorn
bench: venv
	$(BIN)/python bench/run.py

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) staticfiles var .pytest_cache .ruff_cache
