# callauto: `make run` to try it, `make test` to check it. Both set everything up.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/callauto_test

.PHONY: run test lint format migrations-check worker venv clean

# The virtualenv is rebuilt whenever a requirements file changes.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "callauto needs Python 3.11")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

run: venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py make_dev_cert
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py seed_demo
	@echo "Starting web (https://127.0.0.1:8443, http://127.0.0.1:8000), worker and gateway. Ctrl-C stops all."
	exec $(VENV)/bin/honcho start -f Procfile

worker: venv
	$(PY) manage.py qcluster

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

migrations-check: venv
	$(PY) manage.py makemigrations --check --dry-run

test: venv lint migrations-check
	DATABASE_URL=$(TEST_DATABASE_URL) $(PY) scripts/ensure_postgres_db.py
	DATABASE_URL=$(TEST_DATABASE_URL) $(VENV)/bin/pytest

clean:
	rm -rf $(VENV) var
