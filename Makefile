# Two commands for a fresh machine: `make demo` and `make test`. uv is bootstrapped with pip if missing.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := $(shell python3 -m pip install --quiet uv >&2 && echo python3 -m uv)
endif
RUN := $(UV) run --frozen
PYTEST_WORKERS ?= 2

.PHONY: install lint typecheck test test-slow demo rehearsal bench bench-inventory mutation mutation-failover \
	mutation-failover-runtime compare-registrations

# Bytecode up front: the policy pack and program runner start in fresh interpreters many times.
install:
	UV_COMPILE_BYTECODE=1 $(UV) sync --frozen

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

# Two runs: the program and the policy pack each have a __main__.py (the pack is published on its own).
typecheck: install
	$(RUN) mypy components emulator handlers preview stackmodel tools demo.py __main__.py
	$(RUN) mypy policies/dr_guardrails policies/__main__.py

# Every feature, each by its fast tests (under 6 minutes on 2 cores); the end-to-end runs marked slow are `test-slow`.
test: lint typecheck
	$(RUN) pytest -n $(PYTEST_WORKERS) -q -m "not slow"

# The end-to-end runs marked slow (real-clock rehearsals, subprocess CLIs, whole-stack drills), one at a time: the
# rehearsals judge measured times against the stack's targets, so nothing else may load the cores meanwhile. Then
# the property tests again with all their examples (tests/properties.py). `.ci/run` runs it after `make test`.
test-slow: install
	$(RUN) pytest -p no:xdist -q -m slow
	DR_THOROUGH=1 $(RUN) pytest -n $(PYTEST_WORKERS) -q -m property

demo: install
	$(RUN) python -m demo

# The two-Region rehearsal of the prod stack on the real clock, with the stack's own settings (not part of `make
# test`): region loss, failback after prod's 30-minute hold-down, the two races and the switch latency. About
# 45 minutes (README "Try it without an AWS account"); the report goes to reports/rehearsal/.
rehearsal: install
	$(RUN) drctl drill --stack prod --local --time-scale 1 --out reports/rehearsal \
		--scenario switch-latency --scenario region-loss-failover --scenario failback --scenario race-overlapping-rounds

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
mutation: mutation-failover mutation-failover-runtime
	$(RUN) --group mutation python tools/mutation.py $(MODULES)

# Mutation testing of the failover budget and the pack's site rule (issue 18), with its own [tool.mutmut] table
# (tools/mutation_failover.toml) in its own work directory, beside `mutation`'s. Equivalent mutants are listed in
# docs/runbooks/failover.md ("Mutation testing").
MUTATION_FAILOVER := .mutation-failover
MUTATED_FAILOVER := "stackmodel.failover_budget.*" \
	"policies.dr_guardrails.failover.x__whole__mutmut_*" \
	"policies.dr_guardrails.failover.x_site_budget_seconds__mutmut_*" \
	"policies.dr_guardrails.failover.x_check_site_objectives_achievable__mutmut_*"
mutation-failover:
	rm -rf $(MUTATION_FAILOVER) && mkdir -p $(MUTATION_FAILOVER)
	cp -r stackmodel policies handlers components preview emulator tests Pulumi.yaml Pulumi.prod.yaml uv.lock \
		$(MUTATION_FAILOVER)/
	$(RUN) python -c "import re; t = open('pyproject.toml').read(); \
		t = re.sub(r'\n\[tool\.mutmut\]\n.*?(?=\n\[|\Z)', '\n', t, flags=re.S); \
		open('$(MUTATION_FAILOVER)/pyproject.toml', 'w').write(t + '\n' + open('tools/mutation_failover.toml').read())"
	cd $(MUTATION_FAILOVER) && $(UV) run --frozen --project $(CURDIR) --group mutation mutmut run $(MUTATED_FAILOVER)
	cd $(MUTATION_FAILOVER) && $(UV) run --frozen --project $(CURDIR) --group mutation mutmut results

# Mutation testing of the failover runtime's deciding rules (issue 18): the functions below of handlers/failover/
# (module:function, mutmut's names), against tests/handlers/failover/test_decisions.py only, with its own
# [tool.mutmut] table (tools/mutation_failover_runtime.toml) in its own work directory; two children at most (about
# two hours for all modules on two busy cores; RUNTIME_MODULES below runs some). Equivalent mutants are listed in
# docs/runbooks/failover.md ("Mutation testing (runtime)").
MUTATION_FAILOVER_RUNTIME := .mutation-failover-runtime
FAILOVER_RUNTIME_MUTATED := \
	switch_endpoint:x_read_switch switch_endpoint:x_answer switch_endpoint:x_respond switch_endpoint:x_lambda_handler \
	reconcile:x__newer reconcile:x__merged reconcile:xǁ_Walkǁkey \
	failback:x_hold_seconds failback:x_hold failback:x_database_back failback:x_old_primary_member \
	failback:x_reconcile_first failback:x_reconcile_second failback:x_switch_back \
	actions:x_lag_gate actions:x__lag_seconds actions:x_routing_control_arns actions:x_set_routing_controls \
	actions:x_database_writable actions:x_dns_moved actions:x_move_settings \
	state:xǁStateǁlock_held state:x__conditional_failed state:x__value state:x__python state:xǁSiteStoreǁtrack \
	state:xǁSiteStoreǁadvance state:xǁSiteStoreǁacquire state:xǁSiteStoreǁrenew state:xǁSiteStoreǁrelease \
	state:xǁSiteStoreǁbreak_lock \
	orchestrator:x_route53_vote orchestrator:x__watch_primary orchestrator:x__watch_failed_over \
	orchestrator:x_start_failover orchestrator:x__begin orchestrator:x_transition_round orchestrator:x__database \
	orchestrator:x__dns orchestrator:x_timings orchestrator:x_pause_after orchestrator:x__dns_confirmed \
	orchestrator:x_failback orchestrator:x__drive
# RUNTIME_MODULES="state orchestrator" mutates only those modules' functions (a module takes up to about 45 minutes
# on two busy cores); empty: all of them.
RUNTIME_MODULES ?=
FAILOVER_RUNTIME_SELECTED := $(if $(RUNTIME_MODULES),$(filter $(addsuffix :%,$(RUNTIME_MODULES)),$(FAILOVER_RUNTIME_MUTATED)),$(FAILOVER_RUNTIME_MUTATED))
mutation-failover-runtime:
	rm -rf $(MUTATION_FAILOVER_RUNTIME) && mkdir -p $(MUTATION_FAILOVER_RUNTIME)
	cp -r stackmodel policies handlers components preview emulator tests Pulumi.yaml Pulumi.prod.yaml uv.lock \
		$(MUTATION_FAILOVER_RUNTIME)/
	$(RUN) python -c "import re; t = open('pyproject.toml').read(); \
		t = re.sub(r'\n\[tool\.mutmut\]\n.*?(?=\n\[|\Z)', '\n', t, flags=re.S); \
		open('$(MUTATION_FAILOVER_RUNTIME)/pyproject.toml', 'w').write(t + '\n' + open('tools/mutation_failover_runtime.toml').read())"
	cd $(MUTATION_FAILOVER_RUNTIME) && $(UV) run --frozen --project $(CURDIR) --group mutation mutmut run --max-children 2 \
		$(foreach m,$(FAILOVER_RUNTIME_SELECTED),"handlers.failover.$(word 1,$(subst :, ,$(m))).$(word 2,$(subst :, ,$(m)))__mutmut_*")
	cd $(MUTATION_FAILOVER_RUNTIME) && $(UV) run --frozen --project $(CURDIR) --group mutation mutmut results

# What the prod stack registers at BASE versus the working tree (tools/compare_registrations.py); exit 1 on a difference.
BASE ?= HEAD
compare-registrations: install
	$(RUN) python tools/compare_registrations.py $(BASE)
