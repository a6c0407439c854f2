# Two commands do all set-up: `make run` (the app, zero-config) and `make test` (the suite).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install services migrate seed bench clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

services:
	bash scripts/services.sh

test: install services
	bash scripts/test.sh

run: install
	bash scripts/run.sh
