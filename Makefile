# Two commands for a new user: `make run` (set up and start everything) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
PORT ?= 8000
# One web process on a laptop; production (bin/web, compose) defaults to one per core.
export WEB_CONCURRENCY ?= 1
export DJANGO_SETTINGS_MODULE ?= config.settings.local

.PHONY: install run test test-fast lint format migrate

$(VENV)/.installed: requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@touch $@

install: $(VENV)/.installed

migrate: install
	@mkdir -p var
	$(BIN)/python manage.py migrate --noinput

run: migrate
	@bin/ensure-redis
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py bootstrap_demo --port $(PORT)
	$(BIN)/python manage.py load_examples
	@rm -rf var/prometheus && mkdir -p var/prometheus  # /metrics adds up web and worker
	PROMETHEUS_MULTIPROC_DIR=$(CURDIR)/var/prometheus PATH="$(BIN):$$PATH" $(BIN)/honcho start --procfile Procfile --port $(PORT)

# Two processes (pytest-xdist; each with its own test database and Redis database): most of
# the suite waits on workers, servers and real time, so two halve it on two cores.
# --create-db: a run never inherits a test database that an interrupted run left with rows in
# it (pyproject's --reuse-db is for the edit-test loop; migrating afresh costs seconds).
test: install
	@mkdir -p var
	DJANGO_SETTINGS_MODULE=config.settings.test $(BIN)/python -m pytest -n 2 --create-db

# The unit layer for the edit-test loop: SQLite, no worker, no server, no browser (tests that
# need one, or start processes or wait real time, are marked `integration`, by hand or by
# conftest.py from the fixtures they use), one process per core (pytest-xdist; each has its
# own database file and Redis database).
test-fast: install
	@mkdir -p var
	DATABASE_URL=sqlite:///$(CURDIR)/var/docchain.sqlite3 DJANGO_SETTINGS_MODULE=config.settings.test \
		$(BIN)/python -m pytest -q -m "not integration" -n auto --maxprocesses 6 --create-db

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
