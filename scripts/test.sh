#!/usr/bin/env bash
# The quality gates and the suite, against the real PostgreSQL and Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export DJANGO_SECRET_KEY="${DJANGO_SECRET_KEY:-test-only-not-secret}"

# The database named in DATABASE_URL (pytest-django creates its own test_ database beside it).
$PY - <<'PYEOF'
import os, psycopg, environ
cfg = environ.Env.db_url_config(os.environ["DATABASE_URL"])
if cfg["ENGINE"].endswith("postgresql"):
    with psycopg.connect(host=cfg["HOST"], port=cfg["PORT"] or 5432, user=cfg["USER"],
                         password=cfg["PASSWORD"] or None, dbname="postgres", autocommit=True) as c:
        if not c.execute("select 1 from pg_database where datname = %s", [cfg["NAME"]]).fetchone():
            c.execute(f'create database "{cfg["NAME"]}"')
PYEOF

echo "== ruff"
$PY -m ruff format --check .
$PY -m ruff check .

echo "== migrations are up to date"
DJANGO_SETTINGS_MODULE=symbiosis.settings_test $PY manage.py makemigrations --check --dry-run

echo "== check --deploy under production-like settings"
DJANGO_SECURE=true DJANGO_DEBUG=false DJANGO_ALLOWED_HOSTS=symbiosis.example \
  DJANGO_EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend \
  DJANGO_SECRET_KEY="$($PY -c 'import secrets; print(secrets.token_urlsafe(50))')" \
  $PY manage.py check --deploy --fail-level WARNING

echo "== pytest"
$PY -m pytest --create-db "$@"
