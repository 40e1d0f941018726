#!/usr/bin/env bash
# Run one stage of `make test` / `make lab`, print its wall time and append it to
# $HELLO_CACHE_DIR/timings.tsv (date, stage, seconds, exit code): the numbers behind docs/testing.md.
# The stage's output is also kept in $HELLO_CACHE_DIR/logs/<stage>.log; when the stage fails, the
# failed tasks/tests are repeated at the very end, so the last lines of a CI log say what broke.
# shellcheck source=testbed/lib.sh
source "$(dirname "$0")/lib.sh"
stage="$1"; shift
mkdir -p "$HELLO_CACHE_DIR/logs"
logfile="$HELLO_CACHE_DIR/logs/$stage.log"
start=$(date +%s)
printf '\n===== stage %s =====\n' "$stage" >&2
set +e
"$@" 2>&1 | tee "$logfile"
rc=${PIPESTATUS[0]}
set -e
secs=$(( $(date +%s) - start ))
printf '%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$stage" "$secs" "$rc" >> "$HELLO_CACHE_DIR/timings.tsv"
if [ "$rc" -ne 0 ]; then
  printf '\n===== stage %s failed; what failed (full log: %s) =====\n' "$stage" "$logfile" >&2
  # Ansible: the task header before each failure, the failure and the 40 lines after it (stderr);
  # pytest / shell: FAILED / ERROR lines. sed strips colour codes first.
  # molecule 26 draws a box around ansible-playbook's output: its "  │ " prefix is removed as well.
  sed -e 's/\x1b\[[0-9;]*m//g' -e 's/^ *│ \{0,1\}//' "$logfile" |
    awk '/^TASK \[/ { task = $0 }
         ctx > 0 { print substr($0, 1, 300); ctx-- }
         /^(fatal|failed): \[/ || /^ERROR! / || /^\[ERROR\]: / { if (task != last) { print task; last = task }; print substr($0, 1, 700); ctx = 40 }
         /^(FAILED|ERROR) / && !/RETRYING/ || /^E   / { print substr($0, 1, 300) }' | tail -n 150 >&2 || true
fi
printf '===== stage %s: %ss, exit %s =====\n' "$stage" "$secs" "$rc" >&2
exit "$rc"
