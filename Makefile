# Two commands for a fresh machine: `make demo` and `make test`. uv is bootstrapped with pip if missing.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := $(shell python3 -m pip install --quiet uv >&2 && echo python3 -m uv)
endif
RUN := $(UV) run --frozen
PYTEST_WORKERS ?= 2

.PHONY: install lint typecheck test test-fast demo bench bench-inventory mutation compare-registrations

# Bytecode up front: the policy pack and program runner start in fresh interpreters many times.
install:
	UV_COMPILE_BYTECODE=1 $(UV) sync --frozen

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

# Two runs: the program and the policy pack each have a __main__.py (the pack is published on its own).
typecheck: install
	$(RUN) mypy components handlers preview stackmodel tools demo.py __main__.py
	$(RUN) mypy policies/dr_guardrails policies/__main__.py

test: lint typecheck
	$(RUN) pytest -n $(PYTEST_WORKERS) -q

# Everything except the end-to-end tests marked slow.
test-fast: install
	$(RUN) pytest -n $(PYTEST_WORKERS) -q -m "not slow"

demo: install
	$(RUN) python -m demo

bench: install
	$(RUN) python benchmarks/policy_pack.py
	$(RUN) --group bench python benchmarks/restore_bucket.py

# Restore planning at scale (issue 21): the SQL planner on 1M and 10M versions, the listing planner at 1M; several
# minutes and about 2 GB of temporary Parquet, so not part of `make bench`.
bench-inventory: install
	$(RUN) --group bench python benchmarks/restore_inventory.py

# Mutation testing per module (tools/mutation.py: each module against the fast tests that exercise it, in a scratch
# copy, one module at a time, one child): the restore planner, the fail-fast summary (handlers/s3/plan.py), the RPO
# rule and canaries, and the sites and tables config. Prints each module's score, survivors and listed equivalents.
# Not part of `make test` (minutes per module on two cores); `make mutation MODULES=handlers/s3/plan.py` runs one.
MODULES ?=
mutation:
	$(RUN) --group mutation python tools/mutation.py $(MODULES)

# What the prod stack registers at BASE versus the working tree (tools/compare_registrations.py); exit 1 on a difference.
BASE ?= HEAD
compare-registrations: install
	$(RUN) python tools/compare_registrations.py $(BASE)
