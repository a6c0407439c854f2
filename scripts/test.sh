#!/usr/bin/env bash
# The whole test suite against local PostgreSQL and Redis, browser tests included, in a
# random order (pytest-randomly prints the seed; `-p no:randomly` turns it off).
#
# With no arguments the suite runs twice: once at the real time, then with the clock of
# every process it starts moved TEST_FUTURE_OFFSET ahead (libfaketime), while PostgreSQL
# and Redis keep the real time. The second pass catches tests that pin a calendar date
# against the real clock and code that mixes two clocks; the browser keeps the real clock.
# Extra arguments go to pytest and run one pass (e.g. `scripts/test.sh tests/contacts -x`);
# TEST_CLOCK_OFFSET=+400d runs that pass with the moved clock.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

CHROMIUM_PATH=${CHROMIUM_PATH:-/usr/bin/chromium}
[ -x "$CHROMIUM_PATH" ] || apt_install chromium
command -v faketime >/dev/null || apt_install faketime
export CHROMIUM_PATH
export DJANGO_SETTINGS_MODULE=scendcore.settings.test
# Tests always run against PostgreSQL: a SQLite DATABASE_URL from the shell or .env is ignored.
case "${DATABASE_URL:-}" in
  postgres://*|postgresql://*) ;;
  *) export DATABASE_URL=postgres://scendcore:scendcore@127.0.0.1:5432/scendcore ;;
esac

run_pass() {  # run_pass OFFSET [pytest args...]; OFFSET "" is the real clock
  local offset=$1; shift
  if [ -z "$offset" ]; then
    .venv/bin/python -m pytest "$@"
  else
    echo "Running the suite with the clock moved $offset (libfaketime; PostgreSQL keeps the real time)"
    faketime -f "$offset" .venv/bin/python -m pytest "$@"
  fi
}

if [ $# -gt 0 ]; then
  run_pass "${TEST_CLOCK_OFFSET:-}" "$@"
else
  run_pass ""
  run_pass "${TEST_FUTURE_OFFSET:-+400d}"
fi
