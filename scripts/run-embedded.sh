#!/usr/bin/env bash
# Run the embedded helpdesk: the ASGI server plus one celery worker (with the
# beat scheduler) over kombu's filesystem broker. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PORT="${PORT:-8000}"
mkdir -p "${HELPDESK_VAR_DIR:-var}/broker/queue" "${HELPDESK_VAR_DIR:-var}/broker/processed"
.venv/bin/celery -A helpdesk worker -B --pool=solo --loglevel=INFO \
  --schedule "${HELPDESK_VAR_DIR:-var}/celerybeat-schedule" --without-gossip --without-mingle &
WORKER=$!
trap 'kill $WORKER 2>/dev/null; wait $WORKER 2>/dev/null' EXIT INT TERM
echo "НЕИСПУО helpdesk: http://127.0.0.1:${PORT}/  (admin: http://127.0.0.1:${PORT}/admin/)"
$PY -m uvicorn helpdesk.asgi:application --host 127.0.0.1 --port "$PORT" --lifespan off
