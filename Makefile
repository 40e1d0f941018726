# hello.platform: the two commands a user needs are `make lab` and `make test` (see README.md).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := $(CURDIR)/.venv
STAGE := $(CURDIR)/testbed/stage.sh
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.collections
export ANSIBLE_VAULT_PASSWORD_FILE := $(CURDIR)/testbed/vault-password
export HELLO_NETWORK ?= hello-lab
export HELLO_MIRROR_URL ?= http://hello-mirror:8080
# The test bed's cache (testbed/lib.sh uses the same default); exported so every tool agrees on it.
export HELLO_CACHE_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/hello-platform
CONSUL_VERSION := $(shell sed -n 's/^consul_version: *//p' roles/consul/defaults/main.yml)
MINIO_VERSION := $(shell sed -n 's/^minio_version: *//p' roles/minio/defaults/main.yml)
LOKI_VERSION := $(shell sed -n 's/^loki_version: *//p' roles/loki/defaults/main.yml)
PROMTAIL_VERSION := $(shell sed -n 's/^promtail_version: *//p' roles/promtail/defaults/main.yml)
# Scenario groups run in order; scenarios joined by '+' run at the same time (testbed/molecule.sh).
# `make molecule` is for role work; `make test` runs the same verify suites against the lab instead
# (one converge of the whole platform instead of one per scenario: docs/testing.md, Timings).
MOLECULE_SCENARIOS ?= consul patroni backup
# The verify suites lab-check runs against the converged lab, in this order (each also runs under
# molecule). A suite that fails stops the rest; LAB_KEEP=1 keeps the lab up afterwards.
LAB_SUITES ?= molecule/firewall/verify.yml molecule/bastion/verify.yml molecule/consul/verify.yml molecule/patroni/verify.yml molecule/backup/verify.yml molecule/monitoring/verify.yml molecule/rotation/verify.yml molecule/chaos/verify.yml molecule/secrets/verify.yml
LAB_KEEP ?=
# Empty: `make testbed` leaves Loki and Promtail out (make test builds them in a job of their own).
TESTBED_LOGS ?= 1
# Tags the suites skip in the lab. dr: the patroni suite's DR promotion, re-attachment and switch
# back (about 3 minutes), left out of make test for its time budget; `make chaos` promotes region B
# under its client (region_a_stopped), and `make lab-check LAB_SKIP_TAGS=` runs everything.
LAB_SKIP_TAGS ?= dr
# Check mode on fresh hosts runs on one host of each kind (region A's and region B's Consul servers,
# region A's future leader and region B's standby leader, one app host, LB, repository, S3 and
# monitoring host): the other hosts take the same paths (docs/testing.md). Empty: every host. Every
# host's facts are gathered first (into the fact cache), as the firewall and pg_hba need all addresses.
LAB_CHECK_LIMIT ?= dc1-consul-1,dc2-consul-1,dc1-db-1,dc2-db-1,dc1-app-1,dc1-lb-1,dc1-backup-1,dc1-s3-1,dc1-mon-1
# The idempotence run (site.yml again on the converged lab) covers the same kinds of host, plus the
# jump host. Region A's replica is left out since 2026-12-05 for the time budget: the paths where a
# replica differs from the leader are postgres.yml's, whose second run in the patroni suite
# (verify_changes.yml) must change nothing on every DB host. Empty: every host.
LAB_IDEMPOTENCE_LIMIT ?= $(LAB_CHECK_LIMIT),dc1-bastion-1
# In lab-check, facts gathered once per host are reused by later plays and by the nested
# ansible-playbook runs of the verify suites (bad input, switchover, DR, restore: dozens of runs);
# the cache is emptied whenever the containers are created. Explicit setup tasks still gather.
LAB_FACTS := $(HELLO_CACHE_DIR)/facts/lab
lab-check: export ANSIBLE_GATHERING := smart
lab-check: export ANSIBLE_CACHE_PLUGIN := ansible.builtin.jsonfile
lab-check: export ANSIBLE_CACHE_PLUGIN_CONNECTION := $(LAB_FACTS)
lab-check: export ANSIBLE_CACHE_PLUGIN_TIMEOUT := 14400

.PHONY: help venv collection testbed log-artifacts lint unit rules sanity build integration app molecule lab-check lab-idempotent chaos test lab lab-down benchmark benchmark-backup clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

venv: $(VENV)/.installed ## Python virtualenv with the pinned controller requirements

$(VENV)/.installed: requirements.txt
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required (ansible-core 2.19)"'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --upgrade pip==26.3
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

collection: .collections/ansible_collections/hello/platform

.collections/ansible_collections/hello/platform:
	mkdir -p .collections/ansible_collections/hello
	ln -sfn ../../.. $@

testbed: venv collection ## Docker engine, base image, vendor artifacts and their mirror
	testbed/docker-engine.sh
	testbed/apt-install.sh ssh:openssh-client
	testbed/base-image.sh >/dev/null
	testbed/artifacts.sh consul $(CONSUL_VERSION)
	testbed/artifacts.sh minio $(MINIO_VERSION)
	$(if $(TESTBED_LOGS),$(MAKE) --no-print-directory log-artifacts)
	testbed/mirror.sh up

log-artifacts: ## Loki and Promtail built from the Go module proxy into the mirror (about 10 CPU-minutes when cold)
	testbed/artifacts.sh loki $(LOKI_VERSION)
	testbed/artifacts.sh promtail $(PROMTAIL_VERSION)

lint: venv collection ## yamllint, ansible-lint (production profile), argument specs vs defaults
	yamllint --strict .
	ansible-lint
	$(VENV)/bin/python tests/check_argument_specs.py

unit: venv collection ## Unit tests
	$(VENV)/bin/python -m pytest -q tests/unit

rules: venv collection ## Alert rules (promtool check/test rules: every alert fires and stays quiet); the grafana role rendered on localhost
	tests/prometheus/run.sh
	tests/dashboards/render_role.sh

sanity: venv ## ansible-test sanity on the collection's plugins and files
	testbed/apt-install.sh shellcheck
	tests/sanity.sh

build: venv ## Build the collection tarball, install it offline, show each role's argument spec
	tests/build_collection.sh

integration: venv collection ## PostgreSQL modules against a throw-away PostgreSQL 15 on 127.0.0.1:55432; the exporter's custom queries
	tests/integration/run.sh
	tests/prometheus/postgres_exporter_queries.sh

app: venv ## The hello service's tests (contract, fuzzing, leader changes, gunicorn) against the local PostgreSQL
	app/run-tests.sh

molecule: testbed ## Molecule scenarios (real Consul, PostgreSQL and Patroni in systemd containers)
	export HELLO_BASE_IMAGE="$$(testbed/base-image.sh)"; \
	testbed/molecule.sh $(MOLECULE_SCENARIOS)

lab-check: testbed ## The platform in the lab: check mode on fresh hosts, site.yml, idempotence, every verify suite, removal
	$(MAKE) --no-print-directory lab-down
	rm -rf "$(LAB_FACTS)"
	export HELLO_BASE_IMAGE="$$(testbed/base-image.sh)"; \
	$(STAGE) lab-containers ansible-playbook -i inventories/lab testbed/lab.yml -e testbed_state=started
	rc=0; \
	$(STAGE) lab-check-mode bash -c 'ansible -i inventories/lab all -m ansible.builtin.setup >/dev/null && \
	  ansible-playbook -i inventories/lab playbooks/site.yml --check $(if $(LAB_CHECK_LIMIT),--limit $(LAB_CHECK_LIMIT))' || rc=$$?; \
	((rc)) || $(STAGE) lab-site ansible-playbook -i inventories/lab playbooks/site.yml || rc=$$?; \
	((rc)) || $(STAGE) lab-idempotence testbed/idempotent.sh -i inventories/lab playbooks/site.yml \
	  $(if $(LAB_IDEMPOTENCE_LIMIT),--limit $(LAB_IDEMPOTENCE_LIMIT)) || rc=$$?; \
	for suite in $(LAB_SUITES); do \
	  ((rc)) || $(STAGE) "lab-$$(basename "$$(dirname "$$suite")")" ansible-playbook -i inventories/lab "$$suite" \
	    $(if $(LAB_SKIP_TAGS),--skip-tags $(LAB_SKIP_TAGS)) || rc=$$?; \
	done; \
	if [[ -z "$(LAB_KEEP)" ]]; then $(MAKE) --no-print-directory lab-down; fi; exit $$rc

lab-idempotent: ## On a running lab: site.yml again must change nothing (testbed/idempotent.sh; PLAYBOOK=... for another)
	testbed/idempotent.sh -i inventories/lab $(or $(PLAYBOOK),playbooks/site.yml)

test: ## Everything CI runs
	@# Loki and Promtail take longest to build (Go, about 10 CPU-minutes when cold): a background job
	@# from the start, at a lower priority so that the stages in front keep their core. lab-check needs
	@# them (its testbed prerequisite then finds them built). Needs neither the venv nor Docker.
	testbed/background.sh start log-artifacts nice -n 10 $(STAGE) log-artifacts $(MAKE) --no-print-directory log-artifacts
	$(STAGE) venv $(MAKE) --no-print-directory venv collection
	@# The test bed (Docker engine, base image, Consul and MinIO built from source) is prepared in the
	@# background while the stages that use one core run (testbed/background.sh); integration needs it.
	testbed/background.sh start testbed $(STAGE) testbed $(MAKE) --no-print-directory testbed TESTBED_LOGS=
	$(STAGE) lint $(MAKE) --no-print-directory lint
	$(STAGE) unit $(MAKE) --no-print-directory unit
	$(STAGE) rules $(MAKE) --no-print-directory rules
	$(STAGE) sanity $(MAKE) --no-print-directory sanity
	$(STAGE) build $(MAKE) --no-print-directory build
	$(STAGE) app $(MAKE) --no-print-directory app
	testbed/background.sh wait testbed
	$(STAGE) integration $(MAKE) --no-print-directory integration
	testbed/background.sh wait log-artifacts
	$(STAGE) lab-check $(MAKE) --no-print-directory lab-check

lab: testbed ## Bring up the two-region lab and deploy playbooks/site.yml into it
	export HELLO_BASE_IMAGE="$$(testbed/base-image.sh)"; \
	$(STAGE) lab-containers ansible-playbook -i inventories/lab testbed/lab.yml -e testbed_state=started
	$(STAGE) lab-site ansible-playbook -i inventories/lab playbooks/site.yml
	ansible-playbook -i inventories/lab testbed/lab-info.yml

chaos: venv collection ## On a running lab (make lab): the full fault suite; results in the cache directory, chaos/ (docs/chaos.md)
	$(STAGE) chaos ansible-playbook -i inventories/lab molecule/chaos/verify.yml -e chaos_suite=full

lab-down: venv collection ## Remove the lab's containers (secrets and caches are kept)
	ansible-playbook -i inventories/lab testbed/lab.yml -e testbed_state=absent

BENCHMARKS ?= switchover failover dr app
RUNS ?= 10
benchmark: testbed ## Switchover, failover, DR and service benchmarks on the molecule patroni scenario (not in `make test`; about an hour)
	export HELLO_BASE_IMAGE="$$(testbed/base-image.sh)"; \
	molecule create -s patroni && molecule converge -s patroni; \
	inv="$$(ls -td "$$HOME"/.ansible/tmp/molecule.*.patroni/inventory | head -1)"; rc=0; \
	for b in $(BENCHMARKS); do \
	  ansible-playbook -i "$$inv" benchmarks/$$b.yml -e runs=$(RUNS) 2>&1 | tee benchmarks/last-$$b.log || rc=1; \
	done; \
	molecule destroy -s patroni; exit $$rc

benchmark-backup: ## pgBackRest backup/restore vs tar on a generated database of over 1 GB, on this machine (about 5 minutes)
	OUT=benchmarks/last-pgbackrest.json benchmarks/pgbackrest.sh | tee benchmarks/last-pgbackrest.log

clean: ## Remove the virtualenv and build output (not the caches outside the repo)
	rm -rf .venv .collections *.tar.gz tests/output
