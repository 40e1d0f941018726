#!/usr/bin/env bash
# Integration tests of the PostgreSQL and Consul modules, and of the DR watcher's coordination
# (tests/integration/dr_watcher, pytest), against a real PostgreSQL 15 and a real Consul agent on
# this machine. Starts the throw-away server (testbed/local-postgres.sh) and agent
# (testbed/local-consul.sh), exports their PG* and CONSUL_* environment and runs each target
# (tests/integration/targets/<name>/tasks/main.yml) with ansible-playbook against localhost.
# Exits non-zero when any target fails.
# Usage: tests/integration/run.sh [TARGET...]   (default: every target)
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
venv="$root/.venv"
[ -x "$venv/bin/ansible-playbook" ] || { echo "ERROR: $venv is missing: run make venv" >&2; exit 1; }
[ -e "$root/.collections/ansible_collections/hello/platform" ] || { echo "ERROR: .collections is missing: run make collection" >&2; exit 1; }
export PATH="$venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$root/.collections"
export ANSIBLE_ROLES_PATH="$root/tests/integration/targets" ANSIBLE_NOCOLOR=1
testbed/local-postgres.sh start
eval "$(testbed/local-postgres.sh env)"
export PGTZ=UTC   # timestamps in the assertions are compared as text
testbed/local-consul.sh start
eval "$(testbed/local-consul.sh env)"

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for dir in tests/integration/targets/*/; do targets+=("$(basename "$dir")"); done
fi

failed=()
for target in "${targets[@]}"; do
  [ "$target" != dr_watcher ] || continue
  [ -f "tests/integration/targets/$target/tasks/main.yml" ] || { echo "ERROR: no target $target" >&2; exit 2; }
  start=$(date +%s)
  echo "===== integration target $target =====" >&2
  if ansible-playbook -i localhost, -c local -e "ansible_python_interpreter=$venv/bin/python" \
      -e "hello_target=$target" tests/integration/target.yml; then
    echo "===== $target: passed in $(( $(date +%s) - start ))s =====" >&2
  else
    echo "===== $target: FAILED after $(( $(date +%s) - start ))s =====" >&2
    failed+=("$target")
  fi
done
# The region-failure watcher's coordination through the same Consul agent (pytest).
if [ "$#" -eq 0 ] || [[ " $* " == *" dr_watcher "* ]]; then
  start=$(date +%s)
  echo "===== integration tests dr_watcher (pytest) =====" >&2
  if "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/integration/dr_watcher; then
    echo "===== dr_watcher: passed in $(( $(date +%s) - start ))s =====" >&2
  else
    echo "===== dr_watcher: FAILED after $(( $(date +%s) - start ))s =====" >&2
    failed+=("dr_watcher")
  fi
fi
if [ "${#failed[@]}" -gt 0 ]; then
  echo "FAILED integration targets: ${failed[*]}" >&2
  exit 1
fi
echo "all integration targets passed: ${targets[*]}" >&2
