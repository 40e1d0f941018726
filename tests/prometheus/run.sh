#!/usr/bin/env bash
# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Checks and tests the platform's Prometheus alert rules (roles/prometheus/files/rules/*.yml):
#   1. promtool check rules on every rule file;
#   2. promtool test rules on every test file tests/prometheus/*.yml;
#   3. coverage: every alert of the rule files has a test case where it fires (exp_alerts not empty)
#      and one where it does not (exp_alerts empty), in the test files;
#   4. negative controls: promtool must reject the deliberately broken files in
#      tests/prometheus/negative/ (a rule file with an invalid expression, a test whose expectation
#      is wrong), so that a check which passes everything is noticed.
# Exits non-zero when any of them fails.
#
# promtool comes from Debian's prometheus package (the version the prometheus role installs),
# unpacked without installing the service: apt-get download + dpkg-deb -x into
# ${HELLO_CACHE_DIR:-$HOME/.cache/hello-platform}/tools and kept there. apt-get update runs only when
# the download fails (an empty or old package list); apt-get takes the test bed's apt lock.
# PROMTOOL=/path/to/promtool skips all that.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
rules_dir="$repo/roles/prometheus/files/rules"
# deb_tool (Debian packages unpacked into the cache, apt-get on the test bed's lock).
# shellcheck source-path=SCRIPTDIR source=../../testbed/lib.sh disable=SC1091
source "$repo/testbed/lib.sh"
tools="$HELLO_CACHE_DIR/tools"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'tests/prometheus/run.sh: %s\n' "$*" >&2; exit 1; }

# Print the path of a working promtool, fetching Debian's package into the cache when needed.
promtool_path() {
  if [[ -n "${PROMTOOL:-}" ]]; then
    "$PROMTOOL" --version >/dev/null 2>&1 || die "PROMTOOL=$PROMTOOL does not run"
    printf '%s\n' "$PROMTOOL"
    return
  fi
  local cached="$tools/prometheus/usr/bin/promtool"
  if [[ -x "$cached" ]] && "$cached" --version >/dev/null 2>&1; then
    printf '%s\n' "$cached"
    return
  fi
  local dir
  dir="$(deb_tool prometheus)"
  "$dir/usr/bin/promtool" --version >/dev/null 2>&1 || die "the promtool of Debian's prometheus package does not run"
  printf '%s\n' "$cached"
}

start=$SECONDS
promtool="$(promtool_path)"
log "$("$promtool" --version 2>&1 | head -n 1)"

shopt -s nullglob
rule_files=("$rules_dir"/*.yml)
test_files=("$here"/*.yml)
((${#rule_files[@]})) || die "no rule files in $rules_dir"
((${#test_files[@]})) || die "no test files in $here"
failed=0

log "promtool check rules: ${#rule_files[@]} files"
"$promtool" check rules "${rule_files[@]}" || failed=1

for f in "${test_files[@]}"; do
  log "promtool test rules ${f#"$repo"/}"
  "$promtool" test rules "$f" || failed=1
done

# Every alert needs a case that fires and one that stays quiet. The YAML is simple enough for awk:
# rule files have "- alert: Name"; in test files "alertname: Name" is followed by its exp_alerts,
# either "exp_alerts: []" (quiet) or a list on the next lines (fires).
log "coverage: every alert fires in a test and stays quiet in another"
mapfile -t alerts < <(awk '/^[[:space:]]*- alert:/ {print $3}' "${rule_files[@]}" | sort)
cases="$(awk '
  /^[[:space:]]*(- )?alertname:/ { name = $0; sub(/^.*alertname:[[:space:]]*/, "", name); sub(/[[:space:]]+$/, "", name); next }
  name != "" && /^[[:space:]]*exp_alerts:[[:space:]]*\[\][[:space:]]*$/ { print name, "quiet"; name = ""; next }
  name != "" && /^[[:space:]]*exp_alerts:[[:space:]]*$/ { print name, "fires"; name = ""; next }
' "${test_files[@]}" | sort -u)"
declare -A known=()
for a in "${alerts[@]}"; do
  [[ -z "${known[$a]:-}" ]] || { echo "alert $a is defined twice" >&2; failed=1; }
  known[$a]=1
  for kind in fires quiet; do
    grep -qx "$a $kind" <<<"$cases" || { echo "alert $a has no test case where it ${kind/quiet/stays quiet}" >&2; failed=1; }
  done
done
while read -r name _; do
  [[ -z "$name" || -n "${known[$name]:-}" ]] || { echo "a test case names the unknown alert $name" >&2; failed=1; }
done <<<"$cases"
log "${#alerts[@]} alerts, $(grep -c . <<<"$cases") (alert, fires|quiet) pairs covered"

# Negative controls: each of these must make promtool fail, and for the reason its line
# "# expect-failure: TEXT" gives (so that a wrong path, say, does not pass for a failure).
for f in "$here"/negative/*.yml; do
  case "$(basename "$f")" in
    rules-*) cmd=(check rules) ;;
    test-*) cmd=(test rules) ;;
    *) continue ;;
  esac
  expect="$(sed -n 's/^# expect-failure: //p' "$f")"
  [[ -n "$expect" ]] || { echo "negative control ${f#"$repo"/} has no '# expect-failure:' line" >&2; failed=1; continue; }
  if out="$("$promtool" "${cmd[@]}" "$f" 2>&1)"; then
    printf '%s\n' "$out" >&2
    echo "negative control ${f#"$repo"/}: promtool ${cmd[*]} passed it, it must fail" >&2
    failed=1
  elif ! grep -qF -- "$expect" <<<"$out"; then
    printf '%s\n' "$out" >&2
    echo "negative control ${f#"$repo"/}: promtool ${cmd[*]} failed, but without '$expect'" >&2
    failed=1
  else
    log "negative control ${f#"$repo"/}: promtool ${cmd[*]} failed as it must ($expect)"
  fi
done

if ((failed)); then
  log "FAILED after $((SECONDS - start)) s"
  exit 1
fi
log "all rule checks and tests passed in $((SECONDS - start)) s"
