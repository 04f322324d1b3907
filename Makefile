# The helpdesk's two commands: `make run` and `make test`. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
PG_URL ?= postgres://postgres@127.0.0.1:5432/postgres
REDIS_TEST_URL ?= redis://127.0.0.1:6379/15
export HELPDESK_VAR_DIR ?= $(CURDIR)/var

.PHONY: run run-scaled test test-sqlite test-pg lint format messages makemessages venv test-deps bench clean migrate seed

$(VENV)/.installed: requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.lock
	touch $@

venv: $(VENV)/.installed

messages: venv
	$(PY) scripts/compile_messages.py

makemessages: venv
	HELPDESK_TESTING=true $(PY) manage.py makemessages -l bg -l en --ignore=.venv --ignore=var --ignore=tests --no-obsolete --add-location=file
	HELPDESK_TESTING=true $(PY) manage.py makemessages -d djangojs -l bg -l en --ignore=.venv --ignore=var --ignore=tests --no-obsolete --add-location=file

migrate: venv messages
	mkdir -p "$(HELPDESK_VAR_DIR)/broker/queue" "$(HELPDESK_VAR_DIR)/broker/processed" "$(HELPDESK_VAR_DIR)/broker/control"
	HELPDESK_DEMO=true $(PY) manage.py migrate --noinput

seed: migrate
	HELPDESK_DEMO=true $(PY) manage.py seed_demo

# A working helpdesk with demo data at http://127.0.0.1:$(PORT), no servers needed.
run: seed
	HELPDESK_DEMO=true $(PY) manage.py collectstatic --noinput -v 0
	HELPDESK_DEMO=true PORT=$(PORT) scripts/run-embedded.sh

# Production's shape on one machine: PostgreSQL + Redis on 127.0.0.1, two ASGI
# processes behind scripts/proxy.py on $(PORT), two celery workers, beat, the
# mailbox poller (docs/scaling.md).
run-scaled: venv messages
	PORT=$(PORT) PG_URL=$(PG_URL) scripts/run-scaled.sh

test-deps: venv
	scripts/install-test-deps.sh

# The whole suite on the embedded default (SQLite, in-process layers).
test: test-deps messages
	HELPDESK_TESTING=true $(PY) -m pytest -q -n 2

# The same suite against PostgreSQL and Redis on 127.0.0.1.
test-pg: test-deps messages
	HELPDESK_TESTING=true DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS_TEST_URL) $(PY) -m pytest -q -n 2

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) scripts/check_test_asserts.py
	$(PY) scripts/check_translations.py
	$(PY) scripts/check_catalogues_fresh.py
	HELPDESK_TESTING=true $(PY) manage.py makemigrations --check --dry-run

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Mutation testing of the pure cores, each against its own unit tests (a few
# minutes; MODULES=routing picks some). How to read it: docs/testing.md.
.PHONY: mutate
mutate: venv
	$(PY) scripts/mutate.py $(MODULES)

# Every benchmark at the sizes of docs/benchmarks.md (ONLY=console filing picks some).
bench: venv messages
	$(PY) bench/run.py $(ONLY)

clean:
	rm -rf var test-artifacts .pytest_cache
