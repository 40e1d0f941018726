#!/usr/bin/env bash
# Run one stage of `make test` / `make lab`, print its wall time and append it to
# $HELLO_CACHE_DIR/timings.tsv (date, stage, seconds, exit code): the numbers behind docs/testing.md.
# shellcheck source=testbed/lib.sh
source "$(dirname "$0")/lib.sh"
stage="$1"; shift
mkdir -p "$HELLO_CACHE_DIR"
start=$(date +%s)
printf '\n===== stage %s =====\n' "$stage" >&2
set +e
"$@"
rc=$?
set -e
secs=$(( $(date +%s) - start ))
printf '%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$stage" "$secs" "$rc" >> "$HELLO_CACHE_DIR/timings.tsv"
printf '===== stage %s: %ss, exit %s =====\n' "$stage" "$secs" "$rc" >&2
exit "$rc"
