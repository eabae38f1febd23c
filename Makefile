# The contract between the README, CI and a developer. Each target is a line or two.
SHELL := /bin/bash
PY := .venv/bin/python
PYTHON ?= $(shell command -v python3.12 || echo python3)
DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/symbiosis
CELERY_BROKER_URL_TEST ?= redis://127.0.0.1:6379/9
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/symbiosis_bench_matching

.PHONY: install run test lint bench bench-api openapi clean

.venv/installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv .venv
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: .venv/installed

run: install  ## the embedded demo on http://127.0.0.1:8000 (SQLite and in-process tasks unless configured)
	bash scripts/run_demo.sh

test: install  ## the whole suite, as .ci/run calls it
	DATABASE_URL=$(DATABASE_URL) CELERY_BROKER_URL=$(CELERY_BROKER_URL_TEST) bash scripts/test.sh

lint: install
	$(PY) -m ruff format --check . && $(PY) -m ruff check .

bench: install  ## docs/benchmarks.md; its own database (created if missing, emptied each run)
	DJANGO_SETTINGS_MODULE=symbiosis.settings_test DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) manage.py bench_matching --write docs/benchmarks.md

bench-api: install  ## the partner API at 1M listings under gunicorn (database symbiosis_bench)
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/symbiosis_bench DJANGO_SECRET_KEY=bench $(PY) manage.py bench_api

openapi: install  ## regenerate docs/openapi.yaml (a test fails when it drifts)
	DJANGO_SECRET_KEY=x DJANGO_SETTINGS_MODULE=symbiosis.settings_test $(PY) manage.py spectacular --fail-on-warn --validate --file docs/openapi.yaml

clean:
	rm -rf .venv var
