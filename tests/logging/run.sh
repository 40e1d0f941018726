#!/usr/bin/env bash
# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# End-to-end test of the loki and promtail roles in one throw-away systemd container of the test bed
# (testbed/ansible/containers.yml), with the vendor archives from the test bed's mirror:
#   1. check mode on the fresh host succeeds and installs nothing;
#   2. converge; converge again and check mode again change nothing;
#   3. lines written like the platform's programs (journal, hello app JSON, Patroni and PostgreSQL in
#      Patroni's output, HAProxy's syslog, a PostgreSQL log file) come back from LogQL queries over
#      curl (/loki/api/v1/query_range) with the expected labels and structured metadata;
#   4. a Loki and a Promtail configuration with an unknown key fail in validate, and the running
#      configuration, process and restart count stay as they were; a valid Promtail change is
#      applied with a reload (same process); converging again changes nothing;
#   5. preflight refuses bad input with its message.
#
#   tests/logging/run.sh          after `make testbed` (Docker engine, base image, mirror)
#
# Environment: LOGGING_CONTAINER (default logging-test-1), HELLO_BASE_IMAGE (default: what
# testbed/base-image.sh prints), HELLO_MIRROR_URL (default http://hello-mirror:8080), KEEP=1 keeps
# the container afterwards. Logs of every ansible-playbook run go to $HELLO_CACHE_DIR/logs/logging/.
# Exits non-zero when a check fails.
# shellcheck disable=SC2015,SC2317  # `cond && pass || fail`: pass always succeeds; cleanup runs from the EXIT trap
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root" || exit 1
# shellcheck source-path=SCRIPTDIR source=../../testbed/lib.sh
source testbed/lib.sh
set +e  # every check runs and is counted

name=${LOGGING_CONTAINER:-logging-test-1}
mirror=${HELLO_MIRROR_URL:-http://hello-mirror:8080}
export ANSIBLE_COLLECTIONS_PATH="$root/.collections"
export PATH="$root/.venv/bin:$PATH"
export HELLO_BASE_IMAGE=${HELLO_BASE_IMAGE:-$(testbed/base-image.sh)}
logs="$HELLO_CACHE_DIR/logs/logging"
mkdir -p "$logs"
rm -f "$logs"/*.log
work=$(mktemp -d)
fails=0

cleanup() {
  if [[ -z ${KEEP:-} ]]; then
    ansible-playbook "$here/container.yml" -e "logging_container=$name" -e testbed_state=absent >/dev/null 2>&1 ||
      log "could not remove $name"
  fi
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n=== %s\n' "$*"; }
pass() { printf 'PASS %s\n' "$*"; }
fail() { printf 'FAIL %s\n' "$*"; fails=$((fails + 1)); }
recap() { grep -A1 'PLAY RECAP' "$1" | tail -1 | tr -s ' '; }
# play NAME ARGS...: ansible-playbook ARGS with its log in $logs/NAME.log; prints rc, time and recap.
play() {
  local name=$1 t0=$SECONDS rc
  shift
  ansible-playbook "$@" >"$logs/$name.log" 2>&1
  rc=$?
  printf '%s: rc=%s, %ss;%s\n' "$name" "$rc" "$((SECONDS - t0))" "$(recap "$logs/$name.log")"
  return "$rc"
}
converge() { play "$1" -i "$work/inventory.yml" "$here/site.yml" "${@:2}"; }
unchanged() { grep -q 'changed=0 .*failed=0 ' <<<"$(recap "$logs/$1.log")"; }
# state FILE UNIT: checksum of FILE, main PID and restart count of UNIT.
state() {
  docker exec "$name" sh -c "printf '%s ' \$(sha256sum $1 | cut -c1-16) \$(systemctl show -p MainPID -p NRestarts --value $2)"
}
# expect QUERY NEEDLE: within 90 s, QUERY returns a line containing NEEDLE; prints that stream's labels.
expect() {
  local query=$1 needle=$2 out n i
  for ((i = 0; i < 45; i++)); do
    out=$(curl -fsS -G "$loki/loki/api/v1/query_range" --data-urlencode "query=$query" \
      --data-urlencode since=1h --data-urlencode limit=5000) || out='{}'
    n=$(jq --arg s "$needle" '[.data.result[]? | .values[] | select(.[1] | contains($s))] | length' <<<"$out")
    if ((n > 0)); then
      pass "$query: $n line(s) with $needle; labels $(jq -c --arg s "$needle" \
        '[.data.result[] | select(any(.values[]; .[1] | contains($s))) | .stream] | first' <<<"$out")"
      return 0
    fi
    sleep 2
  done
  fail "$query: no line with $needle"
}

step "artifacts and mirror"
loki_version=$(sed -n 's/^loki_version: *//p' roles/loki/defaults/main.yml)
promtail_version=$(sed -n 's/^promtail_version: *//p' roles/promtail/defaults/main.yml)
testbed/artifacts.sh loki "$loki_version" >/dev/null && testbed/artifacts.sh promtail "$promtail_version" >/dev/null ||
  die "testbed/artifacts.sh failed"
docker exec hello-mirror true 2>/dev/null || die "the mirror container hello-mirror is not running: run make testbed"
cat >"$work/inventory.yml" <<YAML
---
all:
  vars:
    ansible_connection: community.docker.docker
    ansible_user: root
    loki_download_base_url: $mirror/grafana/loki/releases/download
    promtail_download_base_url: $mirror/grafana/loki/releases/download
  children:
    monitoring:
      hosts:
        $name:
YAML

step "fresh container $name"
play container-absent "$here/container.yml" -e "logging_container=$name" -e testbed_state=absent >/dev/null
play container "$here/container.yml" -e "logging_container=$name" || die "could not start $name"
loki="http://$(docker inspect -f "{{(index .NetworkSettings.Networks \"$HELLO_NETWORK\").IPAddress}}" "$name"):3100"

step "check mode on the fresh host"
converge check --check && pass "check mode" || fail "check mode"
docker exec "$name" test ! -e /etc/systemd/system/loki.service -a ! -e /etc/systemd/system/promtail.service &&
  pass "check mode installed no unit" || fail "check mode installed a unit"

step "converge, then again: nothing may change"
converge converge1 && pass converge || fail converge
converge converge2 && unchanged converge2 && pass "second converge changed nothing" || fail "second converge"
converge check2 --check && unchanged check2 && pass "check mode on the converged host changes nothing" || fail "check mode on the converged host"

step "log lines, then LogQL over curl at $loki"
id=run$(date +%s)
docker cp "$here/emit.sh" "$name:/usr/local/sbin/logging-test-emit.sh" >/dev/null
docker exec "$name" /usr/local/sbin/logging-test-emit.sh "$id" || fail "writing the test lines"
t0=$SECONDS
expect "{host=\"$name\"}" "journal-line-$id"
expect "{host=\"$name\"}" "file-line-$id"
expect "{host=\"$name\", datacenter=\"dc1\", job=\"systemd-journal\"}" "journal-line-$id"
expect "{host=\"$name\", job=\"postgresql\", component=\"postgresql\"}" "file-line-$id"
expect "{host=\"$name\", unit=\"hello-app.service\", level=\"error\"} | request_id=\"req-$id\"" "app-line-$id"
expect "{host=\"$name\", unit=\"patroni.service\", component=\"patroni\", level=\"info\"}" "patroni-line-$id"
expect "{host=\"$name\", unit=\"patroni.service\", component=\"postgresql\", level=\"log\"}" "pg-journal-line-$id"
expect "{host=\"$name\", component=\"postgresql\", level=\"fatal\"}" "pg-fatal-line-$id"
expect "{host=\"$name\", unit=\"haproxy.service\", level=\"info\"} | request_id=\"AC1E0009:C802_AC1E0002:01BB_6750B000_0001:1A2B\"" "haproxy-line-$id"
printf 'queries: %ss\n' "$((SECONDS - t0))"

step "a Loki configuration with an unknown key fails in validate; the running one stays"
before=$(state /etc/loki/config.yml loki)
converge broken-loki -e '{"loki_config": {"bogus_key": 1}}'
rc=$?
((rc != 0)) && grep -B3 'fatal:' "$logs/broken-loki.log" | grep -q 'Write the Loki configuration' &&
  pass "refused: $(grep -o 'field bogus_key not found in type [^ .]*[.][A-Za-z]*' "$logs/broken-loki.log" | head -1)" ||
  fail "the broken Loki configuration was not refused in validate"
after=$(state /etc/loki/config.yml loki)
[[ $before == "$after" ]] && pass "config, PID and restarts of Loki unchanged ($after)" || fail "Loki changed: $before -> $after"
docker exec "$name" curl -fsS -o /dev/null localhost:3100/ready && pass "Loki ready" || fail "Loki not ready"

step "a Promtail configuration with an unknown key fails in validate; the running one stays"
before=$(state /etc/promtail/config.yml promtail)
converge broken-promtail \
  -e '{"promtail_extra_scrape_configs": [{"job_name": "extra", "bogus_key": 1, "static_configs": [{"targets": ["localhost"]}]}]}'
rc=$?
((rc != 0)) && grep -B3 'fatal:' "$logs/broken-promtail.log" | grep -q 'Write the Promtail configuration' &&
  pass "refused: $(grep -o 'field bogus_key not found in type [^ .]*[.][A-Za-z]*' "$logs/broken-promtail.log" | head -1)" ||
  fail "the broken Promtail configuration was not refused in validate"
after=$(state /etc/promtail/config.yml promtail)
[[ $before == "$after" ]] && pass "config, PID and restarts of Promtail unchanged ($after)" || fail "Promtail changed: $before -> $after"

step "a valid Promtail change is applied with a reload; back to the defaults; nothing left to change"
before=$(state /etc/promtail/config.yml promtail)
converge extra \
  -e '{"promtail_extra_scrape_configs": [{"job_name": "extra", "static_configs": [{"targets": ["localhost"], "labels": {"job": "extra", "__path__": "/var/log/extra.log"}}]}]}' ||
  fail "extra scrape configuration"
after=$(state /etc/promtail/config.yml promtail)
[[ ${before%% *} != "${after%% *}" && ${before#* } == "${after#* }" ]] &&
  pass "configuration changed, same process: reloaded ($before -> $after)" || fail "not a reload: $before -> $after"
converge converge3 && pass "back to the defaults" || fail "back to the defaults"
converge converge4 && unchanged converge4 && pass "converge after the failures changed nothing" || fail "converge after the failures"

step "preflight refuses bad input"
# check VAR JSON MESSAGE_START
refused() {
  converge "preflight-$1" --check -e "$2"
  local msg
  msg=$(grep -o "$3[^\"]*" "$logs/preflight-$1.log" | head -1)
  [[ -n $msg ]] && pass "$msg" || fail "$1: $2 was not refused"
}
refused loki_version '{"loki_version": "latest"}' 'loki: loki_version must be'
refused loki_retention_period '{"loki_retention_period": "36h"}' 'loki: loki_retention_period must be'
refused promtail_groups '{"promtail_groups": ["systemd-journal", "postgres"]}' 'promtail: promtail_groups must be'
refused promtail_file_jobs '{"promtail_file_jobs": [{"name": "x", "paths": "relative/*.log"}]}' 'promtail: promtail_file_jobs must be'

printf '\n%s check(s) failed; logs in %s\n' "$fails" "$logs"
exit $((fails > 0))
