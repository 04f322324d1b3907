#!/usr/bin/env bash
# Run the embedded helpdesk: the ASGI server plus one celery worker (with the
# beat scheduler) over kombu's filesystem broker. Ctrl-C stops both.
#
# The last thing printed is where the helpdesk is and how to log in: the
# script waits for the worker's banner and for the server to answer first.
# The worker logs warnings and errors only, so its schedule (a task every
# 30 s) does not push the address off the screen.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PORT="${PORT:-8000}"
export PORT
VAR="${HELPDESK_VAR_DIR:-var}"
URL="http://127.0.0.1:${PORT}"
mkdir -p "$VAR/broker/queue" "$VAR/broker/processed" "$VAR/broker/control"
BANNER_SEEN="$VAR/.worker-banner"
rm -f "$BANNER_SEEN"

# The worker's output passes through a reader that notes when its banner (which
# ends with the list of queues) has been printed.
.venv/bin/celery -A helpdesk worker -B --pool=solo --loglevel=WARNING \
  --schedule "$VAR/celerybeat-schedule" --without-gossip --without-mingle \
  > >(while IFS= read -r line; do
        printf '%s\n' "$line"
        case "$line" in *"[queues]"*) : > "$BANNER_SEEN" ;; esac
      done) 2>&1 &
WORKER=$!
$PY -m uvicorn helpdesk.asgi:application --host 127.0.0.1 --port "$PORT" --lifespan off &
SERVER=$!
trap 'kill $WORKER $SERVER 2>/dev/null; wait $WORKER $SERVER 2>/dev/null; rm -f "$BANNER_SEEN"' EXIT
trap 'exit 130' INT TERM

answers() {
  $PY -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
    "$URL/healthz" 2>/dev/null
}

# Up to a minute for both; whatever happens, say where the helpdesk is.
for _ in $(seq 1 120); do
  kill -0 "$SERVER" 2>/dev/null || { echo "The web server stopped; see the messages above." >&2; exit 1; }
  if [ -e "$BANNER_SEEN" ] && answers; then break; fi
  sleep 0.5
done
sleep 0.5  # the rest of the banner's lines

MAIL_DIR="$(cd "$VAR" && pwd)/mail"
cat <<EOF

────────────────────────────────────────────────────────────────────
 НЕИСПУО helpdesk is running at   ${URL}/
   administration                 ${URL}/admin/
   demo mail (files, not sent)    ${MAIL_DIR}/
 Demo logins, password demo12345:
EOF
# The logins are the README's table, so they cannot drift apart.
sed -n 's/^| \([^|]*[^ ]\) *| `\([^`]*@[^`]*\)` |$/\2|\1/p' README.md \
  | while IFS='|' read -r login role; do printf '   %-28s %s\n' "$login" "$role"; done
cat <<EOF
 Ctrl-C stops the server and the worker.
────────────────────────────────────────────────────────────────────
EOF
wait "$SERVER"
