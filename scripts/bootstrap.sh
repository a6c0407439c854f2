#!/usr/bin/env bash
# Create .venv and install requirements.txt into it. Re-runs are instant: a stamp file
# records the requirements that were installed.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-python3}
STAMP=.venv/.requirements.installed

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if [ ! -x .venv/bin/python ]; then
  if ! "$PY" -m venv .venv 2>/dev/null; then
    # Debian ships venv support separately.
    rm -rf .venv
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    "$PY" -m venv .venv
  fi
fi

if [ -f "$STAMP" ] && cmp -s requirements.txt "$STAMP"; then
  exit 0
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r requirements.txt
cp requirements.txt "$STAMP"
echo "Requirements installed into .venv."
