#!/usr/bin/env bash
# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Runs the custom queries of postgres_exporter (roles/postgres_exporter/files/queries.yaml) with the
# real exporter against a real primary and a real hot standby, as a role that is only a member of
# pg_monitor, and fails unless, on both servers:
#   - every metric the file defines appears in /metrics (the test makes rows for every query: a
#     prepared transaction, a blocked lock, a replication slot and a streaming client on both the
#     primary and the standby, active backends, a user table),
#   - pg_exporter_last_scrape_error is 0 and pg_up is 1,
#   - the exporter logged no error ("Error running query", level=error).
# PostgreSQL 15 comes from Debian (postgresql-15, installed when missing, as root). The exporter is
# Debian's prometheus-postgres-exporter, unpacked without installing the service (apt-get download +
# dpkg-deb -x, cached in ${HELLO_CACHE_DIR:-$HOME/.cache/hello-platform}/tools). Both servers listen on
# 127.0.0.1 only, on HELLO_QUERIES_PG_PORT (56540) and the port after it; the exporters on
# HELLO_QUERIES_EXPORTER_PORT (39187) and the port after it. Everything lives in a temporary directory
# that is removed at the end.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
queries="$repo/roles/postgres_exporter/files/queries.yaml"
# deb_tool (Debian packages unpacked into the cache) and apt_get (on the test bed's lock).
# shellcheck source-path=SCRIPTDIR source=../../testbed/lib.sh disable=SC1091
source "$repo/testbed/lib.sh"
pg_bin=/usr/lib/postgresql/15/bin
pg_port="${HELLO_QUERIES_PG_PORT:-56540}"
standby_port=$((pg_port + 1))
exp_port="${HELLO_QUERIES_EXPORTER_PORT:-39187}"
standby_exp_port=$((exp_port + 1))

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'tests/prometheus/postgres_exporter_queries.sh: %s\n' "$*" >&2; exit 1; }
is_root() { [[ "$(id -u)" -eq 0 ]]; }
# Run as the owner of the clusters (postgres when we are root), from / so that cwd does not matter.
# exec: in the background, $! is the program itself (or runuser, which passes signals on).
as_owner() {
  if is_root; then (cd / && exec runuser -u postgres -- "$@"); else (cd / && exec "$@"); fi
}

# Debian's postgres_exporter binary, fetched into the cache when needed.
exporter_path() {
  printf '%s/usr/bin/prometheus-postgres-exporter\n' "$(deb_tool prometheus-postgres-exporter)"
}

if [[ ! -x "$pg_bin/initdb" ]]; then
  is_root || die "PostgreSQL 15 is not installed ($pg_bin/initdb): apt-get install postgresql-15, or run this as root"
  log "installing postgresql-15"
  apt_get install -y -qq --no-install-recommends postgresql-15 >&2
fi
for port in "$pg_port" "$standby_port" "$exp_port" "$standby_exp_port"; do
  if (: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port $port on 127.0.0.1 is in use: set HELLO_QUERIES_PG_PORT / HELLO_QUERIES_EXPORTER_PORT"
  fi
done
exporter="$(exporter_path)"
log "$("$exporter" --version 2>&1 | head -n 1)"

start=$SECONDS
work="$(mktemp -d /tmp/hello-queries.XXXXXX)"
chmod 0755 "$work"
is_root && chown postgres: "$work"
pids=()
cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for d in standby primary; do
    [[ -f "$work/$d/postmaster.pid" ]] && as_owner "$pg_bin/pg_ctl" stop -D "$work/$d" -m immediate >/dev/null 2>&1
  done
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

psql_on() { # psql_on PORT SQL...: as the superuser, through the socket in $work
  local port="$1"; shift
  local args=()
  for sql in "$@"; do args+=(-c "$sql"); done
  as_owner psql -X -q -At -h "$work" -p "$port" -U postgres -d postgres "${args[@]}"
}
# A session that runs SQL in the background until the end of the test.
background_psql() {
  local port="$1" sql="$2"
  as_owner psql -X -q -h "$work" -p "$port" -U postgres -d postgres -c "$sql" >/dev/null 2>&1 &
  pids+=("$!")
}

log "primary on 127.0.0.1:$pg_port"
as_owner "$pg_bin/initdb" -D "$work/primary" -U postgres --auth-local=trust --auth-host=trust \
  --encoding=UTF8 --locale=C.UTF-8 >"$work/initdb.log" 2>&1 || { cat "$work/initdb.log" >&2; die "initdb failed"; }
as_owner tee -a "$work/primary/postgresql.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$work'
max_connections = 30
max_prepared_transactions = 5
max_wal_senders = 5
max_replication_slots = 5
shared_buffers = 16MB
fsync = off
EOF
printf 'host replication all 127.0.0.1/32 trust\n' | as_owner tee -a "$work/primary/pg_hba.conf" >/dev/null
as_owner "$pg_bin/pg_ctl" start -w -D "$work/primary" -l "$work/primary.log" >/dev/null
psql_on "$pg_port" \
  "CREATE ROLE monitoring LOGIN PASSWORD 'monitoring' IN ROLE pg_monitor" \
  "SELECT pg_create_physical_replication_slot('standby1')" \
  "CREATE TABLE hot (id int PRIMARY KEY, v text)" \
  "INSERT INTO hot SELECT g, 'x' FROM generate_series(1, 1000) g" \
  "SELECT count(*) FROM hot" \
  "CREATE TABLE prepared (id int)" \
  "BEGIN" "INSERT INTO prepared VALUES (1)" "PREPARE TRANSACTION 'hello_test'" >/dev/null
# The monitoring role must have nothing but pg_monitor.
[[ "$(psql_on "$pg_port" "SELECT string_agg(b.rolname, ',') FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member
  JOIN pg_roles b ON b.oid = m.roleid WHERE r.rolname = 'monitoring'")" == pg_monitor ]] || die "monitoring is not only in pg_monitor"
[[ "$(psql_on "$pg_port" "SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls FROM pg_roles
  WHERE rolname = 'monitoring'")" == f ]] || die "monitoring has more attributes than LOGIN"

log "hot standby on 127.0.0.1:$standby_port"
as_owner "$pg_bin/pg_basebackup" -h 127.0.0.1 -p "$pg_port" -U postgres -D "$work/standby" -R -S standby1 \
  -X stream -c fast -d "application_name=dc1-db-2" >/dev/null
as_owner sed -i "s/^port = $pg_port\$/port = $standby_port/" "$work/standby/postgresql.conf"
as_owner "$pg_bin/pg_ctl" start -w -D "$work/standby" -l "$work/standby.log" >/dev/null
[[ "$(psql_on "$standby_port" "SELECT pg_is_in_recovery()")" == t ]] || die "the standby is not in recovery"
# A slot and a streaming client on the standby too (a cascading walsender).
psql_on "$standby_port" "SELECT pg_create_physical_replication_slot('cascade1')" >/dev/null
mkdir -p "$work/wal" && is_root && chown postgres: "$work/wal"
as_owner "$pg_bin/pg_receivewal" -d "host=127.0.0.1 port=$standby_port user=postgres application_name=dc2-db-1" \
  -S cascade1 -D "$work/wal" --no-loop >/dev/null 2>&1 &
pids+=("$!")

# Rows for the activity queries: a lock holder and a backend it blocks on the primary (its lock,
# replayed, also blocks a reader on the standby), and active backends on both.
wait_for() { # wait_for PORT SQL: until SQL returns t, for 20 s
  local _
  for _ in $(seq 100); do
    [[ "$(psql_on "$1" "$2")" == t ]] && return 0
    sleep 0.2
  done
  die "timed out on port $1 waiting for: $2"
}
background_psql "$pg_port" "BEGIN; LOCK TABLE hot IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(600)"
background_psql "$pg_port" "SELECT pg_sleep(600)"
background_psql "$standby_port" "SELECT pg_sleep(600)"
wait_for "$pg_port" "SELECT count(*) > 0 FROM pg_locks WHERE relation = 'hot'::regclass AND mode = 'AccessExclusiveLock' AND granted"
background_psql "$pg_port" "SELECT count(*) FROM hot"
psql_on "$pg_port" "SELECT pg_switch_wal()" >/dev/null
# The standby's startup process takes the replayed lock; a reader there then waits for it.
wait_for "$standby_port" "SELECT count(*) > 0 FROM pg_locks WHERE relation = 'hot'::regclass AND mode = 'AccessExclusiveLock'"
background_psql "$standby_port" "SELECT count(*) FROM hot"
wait_for "$standby_port" "SELECT count(*) > 0 FROM pg_stat_replication WHERE state = 'streaming'"
wait_for "$pg_port" "SELECT count(*) > 0 FROM pg_locks WHERE NOT granted"
wait_for "$standby_port" "SELECT count(*) > 0 FROM pg_locks WHERE NOT granted"

log "postgres_exporter on 127.0.0.1:$exp_port (primary) and 127.0.0.1:$standby_exp_port (standby)"
for pair in "$pg_port:$exp_port:primary" "$standby_port:$standby_exp_port:standby"; do
  IFS=: read -r port listen name <<<"$pair"
  DATA_SOURCE_NAME="host=127.0.0.1 port=$port dbname=postgres user=monitoring password=monitoring sslmode=disable" \
    "$exporter" --web.listen-address="127.0.0.1:$listen" --extend.query-path="$queries" --log.level=info \
    >"$work/exporter-$name.log" 2>&1 &
  pids+=("$!")
done

# Every metric queries.yaml defines: <query>_<column> for each column that is not a LABEL.
mapfile -t expected < <(python3 - "$queries" <<'PY'
import sys, yaml
for query, spec in yaml.safe_load(open(sys.argv[1])).items():
    for column in spec["metrics"]:
        for name, mapping in column.items():
            if mapping["usage"] not in ("LABEL", "DISCARD"):
                print(f"{query}_{name}")
PY
)
((${#expected[@]})) || die "no metrics found in $queries"

failed=0 checks=0
for pair in "$exp_port:primary" "$standby_exp_port:standby"; do
  IFS=: read -r listen name <<<"$pair"
  metrics=""
  for _ in $(seq 50); do
    metrics="$(curl -fsS "http://127.0.0.1:$listen/metrics" 2>/dev/null)" && [[ "$metrics" == *"pg_up 1"* ]] && break
    sleep 0.2
  done
  # A second scrape: errors of queries that ran in the first one are in its pg_exporter_last_scrape_error.
  metrics="$(curl -fsS "http://127.0.0.1:$listen/metrics")"
  for m in "${expected[@]}"; do
    checks=$((checks + 1))
    grep -qE "^$m(\{| )" <<<"$metrics" || { echo "$name: $m is missing" >&2; failed=$((failed + 1)); }
  done
  checks=$((checks + 3))
  grep -qx 'pg_up 1' <<<"$metrics" || { echo "$name: pg_up is not 1" >&2; failed=$((failed + 1)); }
  grep -qx 'pg_exporter_last_scrape_error 0' <<<"$metrics" || { echo "$name: pg_exporter_last_scrape_error is not 0" >&2; failed=$((failed + 1)); }
  if grep -iE 'error running query|level=error' "$work/exporter-$name.log" >&2; then
    echo "$name: the exporter logged errors (above)" >&2
    failed=$((failed + 1))
  fi
  log "$name: $(grep -cE '^pg_custom_' <<<"$metrics") pg_custom_* samples"
done

log "${#expected[@]} metrics on a primary and a standby in $((SECONDS - start)) s"
echo "$((checks - failed)) passed, $failed failed"
((failed == 0))
