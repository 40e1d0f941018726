#!/usr/bin/env bash
# A throw-away PostgreSQL 15 server on this machine (not a container) for the integration tests of
# the PostgreSQL modules (tests/integration/run.sh). Debian's postgresql-15 binaries, a cluster made
# with initdb as the postgres user, listening on 127.0.0.1:55432 (HELLO_PG_PORT) with scram-sha-256
# and no Unix socket, started with pg_ctl. The superuser password is generated once and kept in
# $HELLO_CACHE_DIR/pg/superuser-password (mode 0600). Every statement is logged (log_statement=all)
# to <data>/log/postgresql.log so the tests can check that no clear-text password reaches the log.
#
# Usage: testbed/local-postgres.sh start|stop|status|env|destroy
#   start    install postgresql-15 if missing, create the cluster if missing, start it (no-op when running)
#   stop     stop the server (the cluster is kept)
#   status   exit 0 when the server is running
#   env      print `export PGHOST=... PGPORT=... PGUSER=... PGPASSWORD=... PGDATABASE=...` for eval
#   destroy  stop the server and delete the cluster and its password
#
# As root the server runs as the postgres user, which cannot traverse a home directory of mode
# 0700 such as /root: the data directory then lives in the postgres user's home
# (/var/lib/postgresql/hello-platform-test-<hash of the cache path>/data) and
# $HELLO_CACHE_DIR/pg/data is a symlink to it. The port is fixed when the cluster is created.
# shellcheck source=testbed/lib.sh
source "$(dirname "$0")/lib.sh"

PG_MAJOR=15
PG_BIN="/usr/lib/postgresql/$PG_MAJOR/bin"
PG_HOST=127.0.0.1
PG_PORT="${HELLO_PG_PORT:-55432}"
PG_DIR="$HELLO_CACHE_DIR/pg"
PASSWORD_FILE="$PG_DIR/superuser-password"

is_root() { [ "$(id -u)" -eq 0 ]; }

# $PG_DIR keeps the password (0600); as root it must stay traversable for the postgres user.
make_pg_dir() {
  mkdir -p "$PG_DIR"
  if is_root; then chmod 0711 "$PG_DIR"; else chmod 0700 "$PG_DIR"; fi
}

# Run a command as the user that owns the cluster (postgres when we are root), from / so that
# an unreadable working directory does not matter.
as_owner() {
  if is_root; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && "$@")
  fi
}

ensure_installed() {
  [ -x "$PG_BIN/pg_ctl" ] && return 0
  is_root || die "PostgreSQL $PG_MAJOR is not installed ($PG_BIN/pg_ctl is missing): apt-get install postgresql-$PG_MAJOR, or run this as root"
  "$HELLO_REPO_ROOT/testbed/apt-install.sh" "$PG_BIN/pg_ctl:postgresql-$PG_MAJOR"
  [ -x "$PG_BIN/pg_ctl" ] || die "postgresql-$PG_MAJOR installed but $PG_BIN/pg_ctl is still missing"
}

# The data directory: inside $PG_DIR when the cluster owner can reach it, else in postgres's home
# under a name derived from $PG_DIR (so two cache directories never share a cluster), with
# $PG_DIR/data as a symlink to it.
data_dir() {
  if [ -L "$PG_DIR/data" ]; then
    readlink "$PG_DIR/data"
    return 0
  fi
  if ! is_root; then
    printf '%s\n' "$PG_DIR/data"
    return 0
  fi
  make_pg_dir
  if runuser -u postgres -- test -x "$PG_DIR" 2>/dev/null; then
    printf '%s\n' "$PG_DIR/data"
    return 0
  fi
  local home
  home="$(getent passwd postgres | cut -d: -f6)"
  if [ -z "$home" ] || [ ! -d "$home" ]; then
    die "the postgres user cannot reach $PG_DIR and has no home directory to hold the cluster"
  fi
  printf '%s\n' "$home/hello-platform-test-$(printf '%s' "$PG_DIR" | sha256sum | cut -c1-12)/data"
}

running() {
  local data
  data="$(data_dir)"
  [ -f "$data/PG_VERSION" ] && as_owner "$PG_BIN/pg_ctl" status -D "$data" >/dev/null 2>&1
}

create_cluster() {
  local data="$1" pwtmp
  if [ -f "$data/PG_VERSION" ] && [ -s "$PASSWORD_FILE" ]; then
    return 0
  fi
  log "creating a throw-away PostgreSQL $PG_MAJOR cluster in $data"
  rm -rf "$data"
  make_pg_dir
  if [ ! -s "$PASSWORD_FILE" ]; then
    (umask 077 && head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32 > "$PASSWORD_FILE")
  fi
  chmod 0600 "$PASSWORD_FILE"
  mkdir -p "$data"
  chmod 0700 "$data"
  if is_root; then
    chown postgres:postgres "$data"
    if [ "$data" != "$PG_DIR/data" ]; then
      chown postgres:postgres "$(dirname "$data")"
      ln -sfn "$data" "$PG_DIR/data"
    fi
  fi
  # initdb reads the password from a file the cluster owner can read; it is removed right after.
  pwtmp="$(dirname "$data")/.initdb-password"
  (umask 077 && cp "$PASSWORD_FILE" "$pwtmp")
  is_root && chown postgres:postgres "$pwtmp"
  if ! as_owner "$PG_BIN/initdb" --pgdata="$data" --username=postgres --pwfile="$pwtmp" \
      --auth-local=peer --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1; then
    rm -f "$pwtmp"
    cat "$PG_DIR/initdb.log" >&2
    die "initdb failed (log above, also in $PG_DIR/initdb.log)"
  fi
  rm -f "$pwtmp"
  as_owner tee -a "$data/postgresql.conf" >/dev/null <<EOF

# hello.platform test cluster (testbed/local-postgres.sh)
listen_addresses = '$PG_HOST'
port = $PG_PORT
unix_socket_directories = ''
password_encryption = 'scram-sha-256'
max_connections = 50
shared_buffers = 32MB
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = on
log_directory = 'log'
log_filename = 'postgresql.log'
log_truncate_on_rotation = off
log_rotation_age = 0
log_rotation_size = 0
log_statement = 'all'
log_line_prefix = '%m [%p] %q%u@%d '
EOF
}

# The port is written into postgresql.conf when the cluster is created.
check_port() {
  if [ -f "$1/postgresql.conf" ] && ! grep -qx "port = $PG_PORT" "$1/postgresql.conf"; then
    die "the cluster in $1 was created for another port: run '$0 destroy' first to use port $PG_PORT"
  fi
}

start() {
  ensure_installed
  local data
  data="$(data_dir)"
  check_port "$data"
  if running; then
    if [ -s "$PASSWORD_FILE" ]; then
      log "PostgreSQL on $PG_HOST:$PG_PORT is already running ($data)"
      return 0
    fi
    # A cluster left running by an earlier checkout whose cache (and password) was deleted:
    # nobody can log in to it, so it is stopped and created again.
    log "a test cluster runs in $data but its password ($PASSWORD_FILE) is gone: creating it again"
    as_owner "$PG_BIN/pg_ctl" stop --wait --mode=fast --silent -D "$data" || die "could not stop the old test cluster in $data"
  fi
  create_cluster "$data"
  check_port "$data"
  log "starting PostgreSQL $PG_MAJOR on $PG_HOST:$PG_PORT ($data)"
  if ! as_owner "$PG_BIN/pg_ctl" start --wait --timeout=60 --silent -D "$data" -l "$data/startup.log"; then
    tail -n 20 "$data/startup.log" "$data/log/postgresql.log" >&2 2>/dev/null || true
    die "PostgreSQL did not start (is port $PG_PORT taken? see $data/startup.log and $data/log/postgresql.log)"
  fi
}

stop() {
  if running; then
    log "stopping PostgreSQL on $PG_HOST:$PG_PORT"
    as_owner "$PG_BIN/pg_ctl" stop --wait --mode=fast --silent -D "$(data_dir)"
  else
    log "PostgreSQL on $PG_HOST:$PG_PORT is not running"
  fi
}

print_env() {
  [ -s "$PASSWORD_FILE" ] || die "no test cluster yet: run testbed/local-postgres.sh start"
  check_port "$(data_dir)"
  printf 'export PGHOST=%q\n' "$PG_HOST"
  printf 'export PGPORT=%q\n' "$PG_PORT"
  printf 'export PGUSER=%q\n' postgres
  printf 'export PGPASSWORD=%q\n' "$(cat "$PASSWORD_FILE")"
  printf 'export PGDATABASE=%q\n' postgres
}

destroy() {
  [ -x "$PG_BIN/pg_ctl" ] && stop
  local data
  data="$(data_dir)"
  log "deleting the test cluster $data"
  rm -rf "$data" "$PASSWORD_FILE" "$PG_DIR/data" "$PG_DIR/initdb.log"
  if [ "$data" != "$PG_DIR/data" ]; then
    rmdir "$(dirname "$data")" 2>/dev/null || true
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) running ;;
  env) print_env ;;
  destroy) destroy ;;
  *) die "usage: $0 start|stop|status|env|destroy" ;;
esac
