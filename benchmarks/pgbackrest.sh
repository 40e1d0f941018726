#!/usr/bin/env bash
# pgBackRest backup/restore throughput against a plain tar (and tar | zstd) of the same PostgreSQL 15
# data directory, in one run, on this machine (no containers). See benchmarks/README-pgbackrest.md.
#
# Environment:
#   SCALE=80         pgbench scale (80 gives about 1.28 GB of data besides pg_wal)
#   ALLOW_SMALL=1    allow a data directory under 1 GiB (for smoke runs, e.g. SCALE=3)
#   PROCESS_MAX=N    pgBackRest process-max and zstd -T (default: nproc)
#   WORKDIR=DIR      work directory (default: a fresh mktemp -d under
#                    ${HELLO_CACHE_DIR:-$HOME/.cache/hello-platform}/bench-pgbackrest); must be empty or absent
#   OUT=FILE         also write the results as JSON to FILE
#   KEEP=1           keep WORKDIR on exit (the PostgreSQL servers are stopped all the same)
#   DROP_CACHES=0    do not drop the page cache before each timed step (default: try to)
# Needs root: it installs missing Debian packages and runs PostgreSQL and pgBackRest as `postgres`.
set -euo pipefail
export LC_ALL=C
unset PGHOST PGPORT PGUSER PGDATABASE PGSERVICE PGOPTIONS PGPASSWORD PGDATA

SCALE="${SCALE:-80}"
ALLOW_SMALL="${ALLOW_SMALL:-0}"
PROCESS_MAX="${PROCESS_MAX:-$(nproc)}"
OUT="${OUT:-}"
KEEP="${KEEP:-0}"
DROP_CACHES="${DROP_CACHES:-1}"
PGBIN=/usr/lib/postgresql/15/bin
PORT=55488
RESTORE_PORT=55489
STANZA=bench
MIN_BYTES=$((1024 * 1024 * 1024))

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ "$SCALE" =~ ^[1-9][0-9]*$ ]] || die "SCALE must be a positive integer (got '$SCALE')"
if ! [[ "$PROCESS_MAX" =~ ^[1-9][0-9]{0,2}$ ]]; then
    die "PROCESS_MAX must be an integer in 1..999 (got '$PROCESS_MAX')"
fi
((EUID == 0)) || die "run as root (installs packages, runs PostgreSQL as postgres via runuser)"
if [[ -n "$OUT" ]]; then
    OUT="$(realpath -m -- "$OUT")"
    [[ -d "$(dirname "$OUT")" ]] || die "OUT: directory $(dirname "$OUT") does not exist"
fi

T_START="$EPOCHREALTIME"

# --- packages -------------------------------------------------------------------------------------
missing=()
[[ -x "$PGBIN/postgres" && -x "$PGBIN/pgbench" ]] || missing+=(postgresql-15)
command -v pgbackrest >/dev/null || missing+=(pgbackrest)
command -v zstd >/dev/null || missing+=(zstd)
command -v jq >/dev/null || missing+=(jq)
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
getent passwd postgres >/dev/null || die "no 'postgres' OS user (installing postgresql-15 creates it)"

as_pg() { runuser -u postgres -- "$@"; }

# --- work directory -------------------------------------------------------------------------------
# postgres must be able to reach WORKDIR: with the default under /root (mode 700) it cannot, so the
# default falls back to /var/tmp; an explicit WORKDIR that postgres cannot reach is an error.
workdir_note=""
created_workdir=0
if [[ -z "${WORKDIR:-}" ]]; then
    base="${HELLO_CACHE_DIR:-$HOME/.cache/hello-platform}/bench-pgbackrest"
    mkdir -p "$base"
    WORKDIR="$(mktemp -d "$base/run.XXXXXX")"
    chown postgres: "$WORKDIR"
    if ! as_pg test -w "$WORKDIR" -a -x "$WORKDIR"; then
        rmdir "$WORKDIR"
        workdir_note="the postgres user cannot reach $base; used /var/tmp instead"
        mkdir -p /var/tmp/hello-platform-bench-pgbackrest
        WORKDIR="$(mktemp -d /var/tmp/hello-platform-bench-pgbackrest/run.XXXXXX)"
        log "NOTE: $workdir_note"
    fi
    created_workdir=1
else
    WORKDIR="$(realpath -m -- "$WORKDIR")"
    if [[ -e "$WORKDIR" ]]; then
        [[ -d "$WORKDIR" && -z "$(ls -A "$WORKDIR")" ]] || die "WORKDIR $WORKDIR exists and is not an empty directory"
    else
        mkdir -p "$WORKDIR"
        created_workdir=1
    fi
fi

DATA="$WORKDIR/data"
CONF="$WORKDIR/pgbackrest.conf"
REPO="$WORKDIR/repo"
PGBR_RESTORE="$WORKDIR/restore-pgbr"
TAR_RESTORE="$WORKDIR/restore-tar"
ZST_RESTORE="$WORKDIR/restore-tarzst"

pg_stop() { # data directory
    if [[ -f "$1/postmaster.pid" ]] && as_pg "$PGBIN/pg_ctl" -D "$1" status >/dev/null 2>&1; then
        as_pg "$PGBIN/pg_ctl" -D "$1" -m fast -w -t 120 stop >/dev/null 2>&1 \
            || as_pg "$PGBIN/pg_ctl" -D "$1" -m immediate -w -t 60 stop >/dev/null 2>&1 \
            || log "WARNING: could not stop the server of $1"
    fi
}

cleanup() {
    local rc=$?
    set +e
    trap - EXIT
    pg_stop "$PGBR_RESTORE"
    pg_stop "$DATA"
    cd /
    if [[ "$KEEP" == 1 ]]; then
        log "KEEP=1: kept $WORKDIR (servers stopped; start with: runuser -u postgres -- $PGBIN/pg_ctl -D $DATA -l $WORKDIR/postgres.log start)"
    elif ((created_workdir)); then
        rm -rf -- "$WORKDIR"
    else
        find "$WORKDIR" -mindepth 1 -maxdepth 1 -exec rm -rf -- {} +
    fi
    if ((rc != 0)); then
        if [[ "$KEEP" == 1 ]]; then log "FAILED (exit $rc); logs are in $WORKDIR"
        else log "FAILED (exit $rc); rerun with KEEP=1 to keep the logs in WORKDIR"; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The path goes into postgresql.conf and archive_command unquoted, and the socket path has a length limit.
[[ "$WORKDIR" =~ ^[A-Za-z0-9/._+-]+$ ]] || die "WORKDIR may only contain [A-Za-z0-9/._+-]: $WORKDIR"
((${#WORKDIR} + 20 < 107)) || die "WORKDIR too long for a unix socket path: $WORKDIR"
chown postgres: "$WORKDIR"
chmod 700 "$WORKDIR"
as_pg test -w "$WORKDIR" -a -x "$WORKDIR" || die "the postgres user cannot write to $WORKDIR (check parent directory modes)"
cd "$WORKDIR"

# --- timing helpers -------------------------------------------------------------------------------
drops_tried=0
drops_ok=0
drop_caches() {
    [[ "$DROP_CACHES" == 1 ]] || return 0
    sync
    drops_tried=$((drops_tried + 1))
    if (echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then
        drops_ok=$((drops_ok + 1))
    fi
}

declare -A SECS=()
# timed NAME CMD...: drop the page cache, run CMD, then sync (so tar's buffered writes are counted as
# pgBackRest's fsync'd ones are); the wall time lands in SECS[NAME].
timed() {
    local name=$1 t0 t1
    shift
    drop_caches
    log "timing: $name"
    t0="$EPOCHREALTIME"
    "$@"
    sync
    t1="$EPOCHREALTIME"
    SECS[$name]="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"
    log "  $name: ${SECS[$name]} s"
}

bytes_of() { du -sb "$@" | awk '{ s += $1 } END { printf "%.0f\n", s }'; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.1f", b / 1e6 / s; else print "null" }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }

psql_at() { # port sql
    as_pg "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$WORKDIR" -p "$1" -d postgres -c "$2"
}

show_log_tail() { # file
    [[ -f "$1" ]] && { log "--- last lines of $1:"; tail -n 30 "$1" >&2; }
    return 0
}

pgbr() { as_pg pgbackrest --config="$CONF" --stanza="$STANZA" "$@"; }

# --- cluster and pgBackRest configuration ---------------------------------------------------------
log "work directory: $WORKDIR (scale $SCALE, process-max $PROCESS_MAX)"
as_pg "$PGBIN/initdb" --data-checksums -D "$DATA" -U postgres -A trust >"$WORKDIR/initdb.log" 2>&1 \
    || { show_log_tail "$WORKDIR/initdb.log"; die "initdb failed"; }
cat >>"$DATA/postgresql.conf" <<EOF

# --- benchmarks/pgbackrest.sh ---
listen_addresses = ''
port = $PORT
unix_socket_directories = '$WORKDIR'
wal_level = replica
archive_mode = on
archive_command = 'pgbackrest --config=$CONF --stanza=$STANZA archive-push %p'
max_wal_size = 4GB
shared_buffers = 256MB
EOF

mkdir -p "$WORKDIR/log" "$WORKDIR/lock" "$WORKDIR/spool" "$REPO"
cat >"$CONF" <<EOF
[global]
repo1-path=$REPO
repo1-retention-full=1
process-max=$PROCESS_MAX
compress-type=zst
compress-level=3
log-path=$WORKDIR/log
lock-path=$WORKDIR/lock
spool-path=$WORKDIR/spool
start-fast=y
archive-async=n

[$STANZA]
pg1-path=$DATA
pg1-socket-path=$WORKDIR
pg1-port=$PORT
EOF
chown -R postgres: "$WORKDIR"
chmod 640 "$CONF"

as_pg "$PGBIN/pg_ctl" -D "$DATA" -l "$WORKDIR/postgres.log" -w -t 120 start >/dev/null \
    || { show_log_tail "$WORKDIR/postgres.log"; die "PostgreSQL did not start"; }
# The stanza exists before any data is written, so archive_command succeeds from the first segment on.
pgbr stanza-create >/dev/null || { show_log_tail "$WORKDIR/log/$STANZA-stanza-create.log"; die "stanza-create failed"; }
pgbr check >/dev/null || { show_log_tail "$WORKDIR/postgres.log"; die "pgbackrest check failed"; }

# --- data -----------------------------------------------------------------------------------------
pgbench_init() {
    as_pg "$PGBIN/pgbench" -h "$WORKDIR" -p "$PORT" -i -s "$SCALE" -q postgres >"$WORKDIR/pgbench.log" 2>&1 \
        || { show_log_tail "$WORKDIR/pgbench.log"; show_log_tail "$WORKDIR/postgres.log"; die "pgbench -i failed"; }
}
timed pgbench_init pgbench_init
psql_at "$PORT" 'CHECKPOINT' >/dev/null
sync
data_bytes="$(bytes_of "$DATA")"
data_bytes_no_wal=$((data_bytes - $(bytes_of "$DATA/pg_wal")))
log "data directory: $data_bytes bytes ($(mb "$data_bytes") MB), without pg_wal $data_bytes_no_wal bytes"
if ((data_bytes_no_wal < MIN_BYTES)) && [[ "$ALLOW_SMALL" != 1 ]]; then
    die "the data directory holds $data_bytes_no_wal bytes besides pg_wal < 1 GiB; raise SCALE or set ALLOW_SMALL=1"
fi
accounts_original="$(psql_at "$PORT" 'SELECT count(*) FROM pgbench_accounts')"
((accounts_original == SCALE * 100000)) || die "pgbench_accounts has $accounts_original rows, expected $((SCALE * 100000))"
pg_version="$(psql_at "$PORT" 'SHOW server_version')"
pgbr_version="$(pgbackrest version | awk '{ print $2 }')"

# --- pgBackRest -----------------------------------------------------------------------------------

pgbr_backup() { pgbr --type=full backup >/dev/null || { show_log_tail "$WORKDIR/log/$STANZA-backup.log"; die "pgbackrest backup failed"; }; }
timed pgbackrest_backup pgbr_backup
pgbr_backup_bytes="$(bytes_of "$REPO/backup")"
pgbr_archive_bytes="$(bytes_of "$REPO/archive")"

# --- tar and tar | zstd of the same (running, idle) cluster ----------------------------------------
# Without pg_wal's contents, as pgBackRest (which takes the WAL from its archive): every method copies
# the same bytes, and MB/s below divide those bytes (data_bytes_no_wal) by the seconds.
tar_backup() { as_pg tar -cf "$WORKDIR/data.tar" --exclude=data/pg_wal/* -C "$WORKDIR" data; }
# shellcheck disable=SC2016  # expanded by the inner shell
zst_backup() { as_pg bash -c 'set -euo pipefail; tar -cf - --exclude=data/pg_wal/* -C "$1" data | zstd -3 -T"$2" -q -o "$1/data.tar.zst"' _ "$WORKDIR" "$PROCESS_MAX"; }
timed tar_backup tar_backup
timed tarzst_backup zst_backup
tar_bytes="$(bytes_of "$WORKDIR/data.tar")"
zst_bytes="$(bytes_of "$WORKDIR/data.tar.zst")"

# The restores do not need the original server; stop it so it does not compete.
pg_stop "$DATA"

# --- restores -------------------------------------------------------------------------------------
as_pg mkdir -m 700 "$PGBR_RESTORE" "$TAR_RESTORE" "$ZST_RESTORE"
pgbr_restore() {
    pgbr --pg1-path="$PGBR_RESTORE" --type=immediate --target-action=promote restore >/dev/null \
        || { show_log_tail "$WORKDIR/log/$STANZA-restore.log"; die "pgbackrest restore failed"; }
}
tar_restore() { as_pg tar -xf "$WORKDIR/data.tar" -C "$TAR_RESTORE"; }
# shellcheck disable=SC2016  # expanded by the inner shell
zst_restore() { as_pg bash -c 'set -euo pipefail; zstd -d -q -c "$1" | tar -xf - -C "$2"' _ "$WORKDIR/data.tar.zst" "$ZST_RESTORE"; }
timed pgbackrest_restore pgbr_restore
timed tar_restore tar_restore
timed tarzst_restore zst_restore
# Quick check that the tar extractions are complete (file count and bytes of the relation files).
for d in "$TAR_RESTORE/data" "$ZST_RESTORE/data"; do
    [[ "$(bytes_of "$d/base")" == "$(bytes_of "$DATA/base")" ]] || die "$d/base differs in size from the original"
done
rm -rf -- "$TAR_RESTORE" "$ZST_RESTORE"

# --- sanity check: start the pgBackRest restore, let it promote, compare row counts ----------------
log "sanity check: starting the restored cluster on port $RESTORE_PORT"
as_pg "$PGBIN/pg_ctl" -D "$PGBR_RESTORE" -l "$WORKDIR/restore-pgbr.log" -w -t 600 \
    -o "-c port=$RESTORE_PORT -c archive_mode=off" start >/dev/null \
    || { show_log_tail "$WORKDIR/restore-pgbr.log"; die "the restored cluster did not start"; }
promoted=0
for _ in $(seq 1 300); do
    if [[ "$(psql_at "$RESTORE_PORT" 'SELECT pg_is_in_recovery()' 2>/dev/null)" == f ]]; then
        promoted=1
        break
    fi
    sleep 1
done
((promoted)) || { show_log_tail "$WORKDIR/restore-pgbr.log"; die "the restored cluster did not finish recovery within 300 s"; }
accounts_restored="$(psql_at "$RESTORE_PORT" 'SELECT count(*) FROM pgbench_accounts')"
pg_stop "$PGBR_RESTORE"
if [[ "$accounts_restored" != "$accounts_original" ]]; then
    die "SANITY CHECK FAILED: pgbench_accounts has $accounts_restored rows in the restore, $accounts_original in the original"
fi
log "sanity check passed: $accounts_restored rows in pgbench_accounts in both"

# --- report ---------------------------------------------------------------------------------------
if [[ "$DROP_CACHES" != 1 ]]; then
    cache_note="disabled (DROP_CACHES=0)"
    cache_json='"disabled"'
elif ((drops_ok == drops_tried)); then
    cache_note="yes, before each of the $drops_tried timed steps"
    cache_json=true
else
    cache_note="no ($((drops_tried - drops_ok)) of $drops_tried attempts failed; numbers may be page-cache assisted)"
    cache_json=false
fi
run_date="$(date -u +%FT%TZ)"
cpus="$(nproc)"
cpu_model="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
total_s="$(awk -v a="$T_START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')"

names=(pgbackrest tar tarzst)
labels=("pgBackRest $pgbr_version full (zst-3, process-max=$PROCESS_MAX)" "tar (no compression)" "tar + zstd -3 -T$PROCESS_MAX (piped)")
backup_keys=(pgbackrest_backup tar_backup tarzst_backup)
restore_keys=(pgbackrest_restore tar_restore tarzst_restore)
stored=("$pgbr_backup_bytes" "$tar_bytes" "$zst_bytes")

{
    echo "## pgBackRest vs tar, $(mb "$data_bytes_no_wal") MB of data (the data directory without pg_wal)"
    echo
    echo "| method | backup s | backup MB/s | restore s | restore MB/s | stored size MB |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: |"
    for i in "${!names[@]}"; do
        b="${SECS[${backup_keys[$i]}]}"
        r="${SECS[${restore_keys[$i]}]}"
        printf '| %s | %s | %s | %s | %s | %s |\n' "${labels[$i]}" "$b" "$(mbps "$data_bytes_no_wal" "$b")" \
            "$r" "$(mbps "$data_bytes_no_wal" "$r")" "$(mb "${stored[$i]}")"
    done
    echo
    echo "- date: $run_date"
    echo "- machine: nproc $cpus, $cpu_model, kernel $(uname -r)"
    echo "- pgBackRest: $pgbr_version; PostgreSQL: $pg_version"
    echo "- data: pgbench scale $SCALE ($accounts_original accounts), data directory $data_bytes bytes ($(mb "$data_bytes") MB; $(mb "$data_bytes_no_wal") MB without pg_wal); pgbench -i took ${SECS[pgbench_init]} s"
    echo "- MB/s = data directory bytes without pg_wal (what every method copies; pgBackRest takes WAL from its archive, the tars exclude pg_wal/*) / 10^6 / seconds; each timed step ends with sync"
    echo "- pgBackRest repository: backup $(mb "$pgbr_backup_bytes") MB, WAL archive $(mb "$pgbr_archive_bytes") MB (what expire kept: retention-full=1)"
    echo "- page cache dropped: $cache_note"
    echo "- sanity: pgBackRest restore promoted, pgbench_accounts $accounts_restored rows = original"
    [[ -z "$workdir_note" ]] || echo "- note: $workdir_note"
    echo "- total run time: $total_s s"
}

if [[ -n "$OUT" ]]; then
    methods_json="$(for i in "${!names[@]}"; do
        b="${SECS[${backup_keys[$i]}]}"
        r="${SECS[${restore_keys[$i]}]}"
        jq -n --arg method "${names[$i]}" --arg lbl "${labels[$i]}" \
            --argjson backup_s "$b" --argjson backup_mbps "$(mbps "$data_bytes_no_wal" "$b")" \
            --argjson restore_s "$r" --argjson restore_mbps "$(mbps "$data_bytes_no_wal" "$r")" \
            --argjson stored_bytes "${stored[$i]}" \
            '{"method": $method, "label": $lbl, "backup_s": $backup_s, "backup_MBps": $backup_mbps,
              "restore_s": $restore_s, "restore_MBps": $restore_mbps, "stored_bytes": $stored_bytes}'
    done | jq -s .)"
    jq -n \
        --arg date "$run_date" --argjson nproc "$cpus" --arg cpu "$cpu_model" --arg kernel "$(uname -r)" \
        --arg pgbackrest "$pgbr_version" --arg postgresql "$pg_version" \
        --argjson scale "$SCALE" --argjson process_max "$PROCESS_MAX" \
        --argjson data_bytes "$data_bytes" --argjson data_bytes_no_wal "$data_bytes_no_wal" \
        --argjson pgbench_init_s "${SECS[pgbench_init]}" \
        --argjson repo_backup_bytes "$pgbr_backup_bytes" --argjson repo_archive_bytes "$pgbr_archive_bytes" \
        --argjson page_cache_dropped "$cache_json" \
        --argjson accounts_original "$accounts_original" --argjson accounts_restored "$accounts_restored" \
        --argjson methods "$methods_json" --argjson total_s "$total_s" \
        '{date: $date, machine: {nproc: $nproc, cpu: $cpu, kernel: $kernel},
          versions: {pgbackrest: $pgbackrest, postgresql: $postgresql},
          scale: $scale, process_max: $process_max, compress: {type: "zst", level: 3},
          data_bytes: $data_bytes, data_bytes_without_pg_wal: $data_bytes_no_wal, pgbench_init_s: $pgbench_init_s,
          mb_definition: "10^6 bytes; MB/s = data_bytes_without_pg_wal / 10^6 / seconds",
          page_cache_dropped: $page_cache_dropped,
          pgbackrest_repo: {backup_bytes: $repo_backup_bytes, archive_bytes: $repo_archive_bytes},
          methods: $methods,
          sanity: {accounts_original: $accounts_original, accounts_restored: $accounts_restored},
          total_s: $total_s}' >"$OUT"
    log "wrote $OUT"
fi
