#!/usr/bin/env bash
# The whole test suite against local PostgreSQL and Redis, browser tests included.
# Extra arguments go to pytest (e.g. `scripts/test.sh tests/contacts -x`).
set -euo pipefail
cd "$(dirname "$0")/.."

CHROMIUM_PATH=${CHROMIUM_PATH:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM_PATH" ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
fi
export CHROMIUM_PATH
export DJANGO_SETTINGS_MODULE=scendcore.settings.test
# Tests always run against PostgreSQL: a SQLite DATABASE_URL from the shell or .env is ignored.
case "${DATABASE_URL:-}" in
  postgres://*|postgresql://*) ;;
  *) export DATABASE_URL=postgres://scendcore:scendcore@127.0.0.1:5432/scendcore ;;
esac
exec .venv/bin/python -m pytest "$@"
