#!/usr/bin/env bash
# The quality gates and the suite, against the real PostgreSQL and Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export DJANGO_SECRET_KEY="${DJANGO_SECRET_KEY:-test-only-not-secret}"

echo "== ruff"
$PY -m ruff format --check .
$PY -m ruff check .

echo "== migrations are up to date"
DJANGO_SETTINGS_MODULE=symbiosis.settings_test $PY manage.py makemigrations --check --dry-run

echo "== check --deploy under production-like settings"
DJANGO_SECURE=true DJANGO_DEBUG=false DJANGO_ALLOWED_HOSTS=symbiosis.example \
  DJANGO_SECRET_KEY="$($PY -c 'import secrets; print(secrets.token_urlsafe(50))')" \
  $PY manage.py check --deploy --fail-level WARNING

echo "== pytest"
$PY -m pytest --create-db "$@"
