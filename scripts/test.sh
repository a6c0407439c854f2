#!/usr/bin/env bash
# The whole test suite against local PostgreSQL and Redis, browser tests included.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
fi
export DJANGO_SETTINGS_MODULE=scendcore.settings.test
.venv/bin/python -m pytest "$@"
