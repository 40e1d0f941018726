#!/usr/bin/env bash
# Run ansible-playbook on hosts that are already converged and fail unless every host's recap
# reports changed=0 (and no failure): the idempotence check molecule makes, for the lab.
#
#   testbed/idempotent.sh -i inventories/lab playbooks/pgbackrest.yml [--check]
# shellcheck source=testbed/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
rc=0
ANSIBLE_NOCOLOR=1 ansible-playbook "$@" | tee "$out" || rc=$?
((rc == 0)) || die "ansible-playbook $* failed (exit $rc)"
grep -q 'PLAY RECAP' "$out" || die "ansible-playbook $* printed no recap"
changed="$(sed -n '/PLAY RECAP/,$p' "$out" | grep -E 'changed=[1-9]' || true)"
[[ -z "$changed" ]] || die "not idempotent: ansible-playbook $* changed something on converged hosts:
$changed"
log "idempotent: ansible-playbook $* changed nothing"
