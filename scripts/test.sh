#!/usr/bin/env bash
# The whole test suite against local PostgreSQL and Redis, browser tests included, in a
# random order (pytest-randomly prints the seed; `-p no:randomly` turns it off).
#
# With no arguments the suite runs twice: once at the real time, then with the clock of
# every process it starts moved (libfaketime) to TEST_FUTURE_AT: by default more than 400
# days ahead, two days before a DST change, two minutes before midnight in New York (see
# scripts/future_moment.py). PostgreSQL and Redis keep the real time, the browser its own.
# The second pass catches tests that pin a calendar date against the real clock, expect a
# day to be 24 hours, or code that mixes two clocks.
# Extra arguments go to pytest and run one pass (e.g. `scripts/test.sh tests/contacts -x`);
# TEST_CLOCK_OFFSET runs that pass with a moved clock, in faketime's notation
# (`+400d`, or `@2028-03-11 04:58:00` in UTC). Before the suite, the import contracts of
# .importlinter are checked (`make lint` checks only them).
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
    echo "Running the suite with the clock at $offset (libfaketime; PostgreSQL keeps the real time)"
    # An absolute "@moment" starts every process's clock at that moment when it starts, so a
    # worker started minutes into the pass would run minutes behind the tests. The same
    # offset from the real time, in seconds, keeps every process on one clock.
    case "$offset" in
      @*) offset=$(.venv/bin/python scripts/future_moment.py --offset "${offset#@}") ;;
    esac
    TZ=UTC faketime -f "$offset" .venv/bin/python -m pytest "$@"
  fi
}

if [ $# -gt 0 ]; then
  run_pass "${TEST_CLOCK_OFFSET:-}" "$@"
else
  # The layers hold (.importlinter): a lower layer never imports a higher one.
  .venv/bin/lint-imports --no-cache
  run_pass ""
  # The hostile-input probe reads no clock, and the scale runs are set on fixed dates:
  # the moved-clock pass leaves them out.
  run_pass "${TEST_FUTURE_AT:-$(.venv/bin/python scripts/future_moment.py)}" -m "not hostile and not scale"
fi
