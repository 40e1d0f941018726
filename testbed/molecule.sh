#!/usr/bin/env bash
# Run molecule scenarios for `make molecule`.
#
#   testbed/molecule.sh GROUP...      e.g. testbed/molecule.sh consul+backup patroni
#
# Groups run one after another and the first failed group stops the run. The scenarios of a group
# joined by '+' run at the same time (they use different containers); each one's output goes to
# $HELLO_CACHE_DIR/logs/molecule-<scenario>.log and is printed whole when the group has finished.
# The patroni scenario measures write gaps under load, so it runs alone. A scenario run alone has its
# wall time appended to $HELLO_CACHE_DIR/timings.tsv as stage molecule-<scenario>.
# shellcheck source=testbed/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -gt 0 ]] || die "usage: $0 GROUP... (a group is a scenario name, or names joined by '+')"
mkdir -p "$HELLO_CACHE_DIR/logs"

for group in "$@"; do
  IFS=+ read -ra names <<<"$group"
  if ((${#names[@]} == 1)); then
    start=$(date +%s); rc=0
    molecule test -s "${names[0]}" || rc=$?
    secs=$(( $(date +%s) - start ))
    printf '%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "molecule-${names[0]}" "$secs" "$rc" >> "$HELLO_CACHE_DIR/timings.tsv"
    log "molecule scenario ${names[0]}: ${secs}s, exit $rc"
    ((rc == 0)) || exit 1
    continue
  fi
  log "running molecule scenarios ${names[*]} at the same time"
  pids=()
  for name in "${names[@]}"; do
    molecule test -s "$name" >"$HELLO_CACHE_DIR/logs/molecule-$name.log" 2>&1 &
    pids+=("$!")
  done
  failed=()
  for i in "${!names[@]}"; do
    wait "${pids[$i]}" || failed+=("${names[$i]}")
  done
  for name in "${names[@]}"; do
    printf '\n===== molecule scenario %s (%s) =====\n' "$name" "$HELLO_CACHE_DIR/logs/molecule-$name.log"
    cat "$HELLO_CACHE_DIR/logs/molecule-$name.log"
  done
  ((${#failed[@]} == 0)) || die "molecule scenarios failed: ${failed[*]}"
done
