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
CONSUL_VERSION := $(shell sed -n 's/^consul_version: *//p' roles/consul/defaults/main.yml)
MINIO_VERSION := $(shell sed -n 's/^minio_version: *//p' roles/minio/defaults/main.yml)
# Scenario groups run in order; scenarios joined by '+' run at the same time (testbed/molecule.sh).
# The backup scenario (about 20 min) is not in the default list: with it, or with its checks in
# lab-check (LAB_BACKUP_CHECKS below, about 17 min), a cold `make test` exceeds its 75-minute budget
# (docs/testing.md, Timings). Run it with: make molecule MOLECULE_SCENARIOS=backup
MOLECULE_SCENARIOS ?= consul patroni
# What lab-check runs about backups against the lab: the deployed setup only by default;
# molecule/backup/verify.yml runs every backup check (PITR, drills, S3 only, switchover, bad input).
LAB_BACKUP_CHECKS ?= molecule/backup/verify_pgbackrest.yml

.PHONY: help venv collection testbed lint unit sanity build integration app molecule lab-check lab-idempotent test lab lab-down benchmark benchmark-backup clean

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
	testbed/base-image.sh >/dev/null
	testbed/artifacts.sh consul $(CONSUL_VERSION)
	testbed/artifacts.sh minio $(MINIO_VERSION)
	testbed/mirror.sh up

lint: venv collection ## yamllint, ansible-lint (production profile), argument specs vs defaults
	yamllint --strict .
	ansible-lint
	$(VENV)/bin/python tests/check_argument_specs.py

unit: venv collection ## Unit tests
	$(VENV)/bin/python -m pytest -q tests/unit

sanity: venv ## ansible-test sanity on the collection's plugins and files
	testbed/apt-install.sh shellcheck
	tests/sanity.sh

build: venv ## Build the collection tarball, install it offline, show each role's argument spec
	tests/build_collection.sh

integration: venv collection ## PostgreSQL modules against a throw-away PostgreSQL 15 on 127.0.0.1:55432
	tests/integration/run.sh

app: venv ## The hello service's tests (contract, fuzzing, leader changes, gunicorn) against the local PostgreSQL
	app/run-tests.sh

molecule: testbed ## Molecule scenarios (real Consul, PostgreSQL and Patroni in systemd containers)
	export HELLO_BASE_IMAGE="$$(testbed/base-image.sh)"; \
	testbed/molecule.sh $(MOLECULE_SCENARIOS)

lab-check: ## Bring the lab up, verify it, remove it (replaces a running lab)
	$(MAKE) --no-print-directory lab
	rc=0; $(STAGE) lab-verify ansible-playbook -i inventories/lab molecule/consul/verify_consul.yml \
	  molecule/patroni/verify_patroni.yml molecule/patroni/verify_standby.yml \
	  molecule/patroni/verify_covering_index.yml || rc=$$?; \
	$(STAGE) lab-app ansible-playbook -i inventories/lab molecule/patroni/verify_app.yml --tags contract || rc=$$?; \
	$(STAGE) lab-backup ansible-playbook -i inventories/lab $(LAB_BACKUP_CHECKS) || rc=$$?; \
	$(MAKE) --no-print-directory lab-down; exit $$rc

lab-idempotent: ## On a running lab: site.yml again must change nothing (testbed/idempotent.sh; PLAYBOOK=... for another)
	testbed/idempotent.sh -i inventories/lab $(or $(PLAYBOOK),playbooks/site.yml)

test: ## Everything CI runs
	$(STAGE) venv $(MAKE) --no-print-directory venv collection
	$(STAGE) lint $(MAKE) --no-print-directory lint
	$(STAGE) unit $(MAKE) --no-print-directory unit
	$(STAGE) sanity $(MAKE) --no-print-directory sanity
	$(STAGE) build $(MAKE) --no-print-directory build
	$(STAGE) integration $(MAKE) --no-print-directory integration
	$(STAGE) app $(MAKE) --no-print-directory app
	$(STAGE) testbed $(MAKE) --no-print-directory testbed
	$(STAGE) molecule $(MAKE) --no-print-directory molecule
	$(STAGE) lab-check $(MAKE) --no-print-directory lab-check

lab: testbed ## Bring up the two-region lab and deploy playbooks/site.yml into it
	export HELLO_BASE_IMAGE="$$(testbed/base-image.sh)"; \
	$(STAGE) lab-containers ansible-playbook -i inventories/lab testbed/lab.yml -e testbed_state=started
	$(STAGE) lab-site ansible-playbook -i inventories/lab playbooks/site.yml
	ansible-playbook -i inventories/lab testbed/lab-info.yml

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
