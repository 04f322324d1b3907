#!/usr/bin/env bash
# The helpdesk as it runs in production, on one machine: PostgreSQL and Redis
# (already running on 127.0.0.1), two ASGI processes behind one port
# (scripts/proxy.py, round robin, WebSockets too), two celery workers, one
# beat, the mailbox poller. Ctrl-C stops them all. docs/scaling.md explains
# the picture; docs/deployment.md the same over several machines.
#
#   make run-scaled                       # http://127.0.0.1:8000
#   PORT=9000 SCALED_DB=helpdesk_demo make run-scaled
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PORT="${PORT:-8000}"
PG="${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
DB="${SCALED_DB:-helpdesk_scaled}"
export DATABASE_URL="${DATABASE_URL:-${PG%/*}/$DB}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/1}"
export HELPDESK_DEMO="${HELPDESK_DEMO:-true}"
export BEHIND_PROXY=true
export SITE_URL="${SITE_URL:-http://127.0.0.1:$PORT}"
export DATABASE_POOL_SIZE="${DATABASE_POOL_SIZE:-4}"
export HELPDESK_VAR_DIR="${HELPDESK_VAR_DIR:-$PWD/var/scaled}"
WEB_PORTS=("$((PORT + 1))" "$((PORT + 2))")
mkdir -p "$HELPDESK_VAR_DIR"

# The database, once; migrations and demo data every time (both idempotent).
$PY - "$PG" "$DB" <<'EOF'
import sys, psycopg
url, name = sys.argv[1], sys.argv[2]
with psycopg.connect(url, autocommit=True) as conn:
    if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
        conn.execute(f'CREATE DATABASE "{name}"')
EOF
$PY scripts/compile_messages.py >/dev/null
$PY manage.py migrate --noinput -v 0
$PY manage.py seed_demo
$PY manage.py collectstatic --noinput -v 0

# Each process's PostgreSQL sessions carry its name (pg_stat_activity's
# application_name), so the connections each one holds can be counted
# against its share of max_connections (docs/scaling.md).
named() {
  case "$DATABASE_URL" in
    *\?*) echo "$DATABASE_URL&application_name=$1" ;;
    *) echo "$DATABASE_URL?application_name=$1" ;;
  esac
}

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait "${PIDS[@]}" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for port in "${WEB_PORTS[@]}"; do
  DATABASE_URL="$(named "web-$port")" $PY -m uvicorn helpdesk.asgi:application --host 127.0.0.1 --port "$port" \
    --lifespan off --no-access-log &
  PIDS+=($!)
done
# Each worker runs its tasks in threads (no child processes to hand every task
# to: docs/scaling.md, "Celery workers: threads"); WORKER_ARGS changes that.
read -r -a WORKER_ARGS <<< "${WORKER_ARGS:---pool threads --concurrency 4}"
for n in 1 2; do
  DATABASE_URL="$(named "worker$n")" .venv/bin/celery -A helpdesk worker "${WORKER_ARGS[@]}" -n "worker$n@%h" --loglevel=WARNING &
  PIDS+=($!)
done
DATABASE_URL="$(named beat)" .venv/bin/celery -A helpdesk beat --loglevel=WARNING \
  --schedule "$HELPDESK_VAR_DIR/celerybeat-schedule" &
PIDS+=($!)
DATABASE_URL="$(named poller)" $PY manage.py mailbridge_poll &
PIDS+=($!)
$PY scripts/proxy.py --listen "127.0.0.1:$PORT" \
  --backend "127.0.0.1:${WEB_PORTS[0]}" --backend "127.0.0.1:${WEB_PORTS[1]}" &
PIDS+=($!)

for _ in $(seq 1 120); do
  if $PY -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
    "http://127.0.0.1:$PORT/health/live" 2>/dev/null; then break; fi
  sleep 0.5
done
cat <<EOF

────────────────────────────────────────────────────────────────────
 НЕИСПУО helpdesk (scaled) at   http://127.0.0.1:${PORT}/  (proxy)
   web processes                http://127.0.0.1:${WEB_PORTS[0]}/  http://127.0.0.1:${WEB_PORTS[1]}/
   readiness                    http://127.0.0.1:${PORT}/health/ready
   database                     ${DATABASE_URL}
   redis                        ${REDIS_URL}
 Two celery workers, one beat, the mailbox poller. Demo logins as in README.md.
 Ctrl-C stops everything.
────────────────────────────────────────────────────────────────────
EOF
wait -n "${PIDS[@]}"
echo "A process stopped; stopping the rest." >&2
exit 1
