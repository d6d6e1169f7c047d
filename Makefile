# iocmon developer entry points. `make test` is also what CI runs (.ci/run).
#
#   make venv     .venv with the locked packages (requirements/lock.txt) and iocmon, editable
#                 (again only when pyproject.toml, the lock or venv.sh changes)
#   make lock     rewrite requirements/lock*.txt from pyproject.toml's ranges (deploy/local/lock.sh);
#                 ARGS=--upgrade takes the newest versions within the ranges
#   make up       start the local stack: Kafka, Redis, Prometheus, Alertmanager (deploy/local/stack.sh)
#   make down     stop it, keeping its data;  make reset  stop it and delete its data
#   make status   one line per service
#   make run      stack + worker + simulator + live view; Ctrl-C stops it all (deploy/local/run.sh)
#   make test     install what the tests need (stack.sh install), ruff check, mypy, pytest (the tests
#                 start a stack of their own); ARGS="-k x" for pytest
#                 (the long fault tests, marked faults_full, are left to `make test-faults`)
#   make test-faults  every fault test in tests/faults, the long ones included
#   make lint     ruff check + ruff format --check + mypy (strict; what it checks: pyproject.toml)
#   make dashboards  regenerate dashboards/*.json from code, then lint them
#   make rules    regenerate deploy/prometheus/slo.rules.yml from IOCMON_ON_TIME_OBJECTIVE
#
# Ports, folders and topic names come from the environment: see deploy/local/stack.sh.

SHELL := bash
VENV := .venv
STACK := bash deploy/local/stack.sh
LINT_PATHS := iocmon streams producers notifier tests dashboards benchmarks
ARGS ?=

.PHONY: venv lock up down reset status run test test-faults lint dashboards rules

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements/lock.txt deploy/local/venv.sh
	@bash deploy/local/venv.sh

lock:
	@bash deploy/local/lock.sh $(ARGS)

up:
	@$(STACK) up

down:
	@$(STACK) down

reset:
	@$(STACK) reset

status:
	@$(STACK) status || true

run: venv
	@bash deploy/local/run.sh

test: venv
	@bash deploy/local/test.sh -m "not faults_full" $(ARGS)

test-faults: venv
	@IOCMON_TEST_PATHS=tests/faults bash deploy/local/test.sh $(ARGS)

lint: venv
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(VENV)/bin/mypy

dashboards: venv
	$(VENV)/bin/python -m dashboards.generate
	$(VENV)/bin/python -m dashboards.lint

rules: venv
	$(VENV)/bin/python -m iocmon.slo.rules
	promtool check rules deploy/prometheus/*.rules.yml
