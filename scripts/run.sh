#!/usr/bin/env bash
# Start ScendCore for local use: migrate, seed the demo workspace, then run the web
# server and Celery beat (plus a worker when a broker is configured). Ctrl-C stops all.
set -euo pipefail
cd "$(dirname "$0")/.."

HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
PY=.venv/bin/python
export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-scendcore.settings.base}

broker=${CELERY_BROKER_URL:-${REDIS_URL:-}}
if [ -z "$broker" ] && [ -f .env ]; then
  broker=$(grep -E '^(CELERY_BROKER_URL|REDIS_URL)=.+' .env | head -n 1 | cut -d= -f2- || true)
fi

# Links in the mail the demo sends (unsubscribe, tracking) must reach this server: beat
# delivers it, outside any request, so tell every process where the site is served.
site_url=${SITE_URL:-}
if [ -z "$site_url" ] && [ -f .env ]; then
  site_url=$(grep -E '^SITE_URL=.+' .env | head -n 1 | cut -d= -f2- || true)
fi
if [ -z "$site_url" ]; then
  case "$HOST" in
    0.0.0.0|::|'') link_host=127.0.0.1 ;;
    *:*) link_host="[$HOST]" ;;
    *) link_host=$HOST ;;
  esac
  export SITE_URL="http://$link_host:$PORT"
fi
export HOST PORT

$PY manage.py migrate --noinput
$PY manage.py seed_demo --no-logins
case "${DEBUG:-true}" in
  0|false|False|FALSE|no|off) $PY manage.py collectstatic --noinput -v0 ;;
esac

# Each child runs in its own process group, so the trap can stop it with everything it spawned.
set -m
pids=()
stop_all() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM
trap stop_all EXIT

$PY manage.py runserver "$HOST:$PORT" &
pids+=($!)
# With no broker, tasks run eagerly: beat itself executes the periodic jobs.
.venv/bin/celery -A scendcore beat --loglevel INFO --pidfile= &
pids+=($!)
if [ -n "$broker" ]; then
  .venv/bin/celery -A scendcore worker --loglevel INFO --concurrency "${CELERY_CONCURRENCY:-2}" &
  pids+=($!)
  mode="worker and beat on $broker"
else
  mode="beat only; tasks run inline (no broker configured)"
fi

sleep 2
cat <<MSG

  ScendCore is running at http://$HOST:$PORT/   (Celery: $mode)

  Demo logins, password for all: scendcore-demo
    demo-rep       rep in Acme Outbound
    demo-manager   manager in Acme Outbound (reviews approvals)
    demo-admin     admin in Acme Outbound and Globex Demo; also Django admin at /admin/
    globex-admin   admin in Globex Demo

  Press Ctrl-C to stop.

MSG
# Stop everything as soon as one of the processes exits.
wait -n "${pids[@]}" || true
