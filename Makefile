# Two commands do all set-up: `make run` (the app, zero-config) and `make test` (the suite).
SHELL := /bin/bash

.PHONY: run test install services check lint

install:
	bash scripts/bootstrap.sh

services:
	bash scripts/services.sh

# Extra pytest arguments: make test ARGS="tests/contacts -x"
test: install services
	bash scripts/test.sh $(ARGS)

run: install
	bash scripts/run.sh

check: install
	.venv/bin/python manage.py check

# The import contracts that keep the layers (.importlinter); make test checks them too.
lint: install
	.venv/bin/lint-imports --no-cache
