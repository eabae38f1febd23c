#!/usr/bin/env bash
# The embedded demo: migrate, load the reference and demo data, then serve on 127.0.0.1:8000.
# With DATABASE_URL and CELERY_BROKER_URL set it uses PostgreSQL and Redis and starts a real
# Celery worker (and beat) beside the web server.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON_BIN:-.venv/bin/python}"
VAR_DIR="${SYMBIOSIS_VAR_DIR:-var}"
mkdir -p "$VAR_DIR"
if [ -z "${DJANGO_SECRET_KEY:-}" ]; then
  # A throwaway key for this demo only; production sets its own.
  DJANGO_SECRET_KEY=$($PY -c 'import secrets; print(secrets.token_urlsafe(50))')
  export DJANGO_SECRET_KEY
fi
export DJANGO_DEBUG="${DJANGO_DEBUG:-false}"
PORT="${PORT:-8000}"

$PY manage.py migrate --noinput
$PY manage.py load_reference_data
$PY manage.py seed_demo
$PY manage.py collectstatic --noinput -v 0

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM
if [ -n "${CELERY_BROKER_URL:-}" ]; then
  .venv/bin/celery -A symbiosis worker --loglevel=INFO --concurrency=2 &
  pids+=($!)
  .venv/bin/celery -A symbiosis beat --loglevel=INFO --schedule "$VAR_DIR/celerybeat-schedule" &
  pids+=($!)
fi
echo "Symbiosis Exchange demo on http://127.0.0.1:${PORT}/ (logins in README.md)"
.venv/bin/gunicorn symbiosis.wsgi:application --bind "127.0.0.1:${PORT}" --workers 2 \
  --access-logfile - &
pids+=($!)
wait -n
