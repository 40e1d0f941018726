#!/usr/bin/env bash
# A throw-away Consul agent on this machine (not a container) for the integration tests of the
# Consul modules (tests/integration/run.sh). The real consul binary (the version of the consul
# role's consul_version, from the test bed's artifact cache: testbed/artifacts.sh builds it from
# the Go module proxy when missing) runs in dev mode (one in-memory server, datacenter dc1) on
# 127.0.0.1 only, with:
#   - the HTTPS API on 127.0.0.1:28501 (HELLO_CONSUL_PORT) and no plain HTTP or gRPC; DNS on
#     127.0.0.1:<port+99> (28600); server RPC and Serf on <port-201..port-199> (28300-28302);
#     below Linux's ephemeral port range (32768-60999): an outgoing connection of another program
#     once held 58600 when the agent started there (make test, 2026-12-04);
#   - a throw-away CA and server certificate made with openssl (30 days, renewed when they expire
#     within a day) in $HELLO_CACHE_DIR/local-consul/tls;
#   - ACLs enabled with default_policy deny; the initial management token is generated once and
#     kept in $HELLO_CACHE_DIR/local-consul/management-token (mode 0600); it is also the agent's
#     token, so the dev agent can register its node and services.
# The agent's log is $HELLO_CACHE_DIR/local-consul/consul.log. Dev mode keeps nothing on disk:
# after a stop, the next start begins with an empty catalog (same token, same certificates).
#
# Usage: testbed/local-consul.sh start|stop|status|env|destroy
#   start    fetch/unpack consul if missing, make the CA, certificate and token if missing, start
#            the agent and wait until its API answers with ACLs (no-op when it runs as configured)
#   stop     stop the agent
#   status   exit 0 when the agent runs and its API answers
#   env      print `export CONSUL_HTTP_ADDR=... CONSUL_HTTP_TOKEN=... CONSUL_CACERT=...` for eval
#   destroy  stop the agent and delete its token, certificates, configuration and log (the
#            unpacked binary is kept)
# shellcheck source=testbed/lib.sh
source "$(dirname "$0")/lib.sh"

CONSUL_VERSION="${HELLO_CONSUL_VERSION:-$(sed -n 's/^consul_version: *//p' "$HELLO_REPO_ROOT/roles/consul/defaults/main.yml")}"
[ -n "$CONSUL_VERSION" ] || die "cannot read consul_version from roles/consul/defaults/main.yml (set HELLO_CONSUL_VERSION)"
CONSUL_HOST=127.0.0.1
CONSUL_PORT="${HELLO_CONSUL_PORT:-28501}"
# The other ports keep Consul's distances from the HTTPS port (8501): RPC 8300, Serf 8301/8302, DNS 8600.
if ! [[ $CONSUL_PORT =~ ^[0-9]+$ ]] || [ "$CONSUL_PORT" -lt 1225 ] || [ "$CONSUL_PORT" -gt 65000 ]; then
  die "HELLO_CONSUL_PORT must be a port number between 1225 and 65000, not '$CONSUL_PORT'"
fi
CONSUL_DIR="$HELLO_CACHE_DIR/local-consul"
BIN="$CONSUL_DIR/$CONSUL_VERSION/consul"
TOKEN_FILE="$CONSUL_DIR/management-token"
CONFIG_FILE="$CONSUL_DIR/consul.hcl"
PID_FILE="$CONSUL_DIR/consul.pid"
LOG_FILE="$CONSUL_DIR/consul.log"
TLS_DIR="$CONSUL_DIR/tls"
CA_CERT="$TLS_DIR/ca.crt"
NODE_NAME=hello-local-consul
URL="https://$CONSUL_HOST:$CONSUL_PORT"

make_dir() {
  mkdir -p "$CONSUL_DIR"
  chmod 0700 "$CONSUL_DIR"
}

# The consul binary of $CONSUL_VERSION, unpacked from the artifact cache's vendor-layout zip.
ensure_binary() {
  # The version is read whole before it is compared: `consul version | grep -q` fails under pipefail
  # when grep exits before consul has written its last line (SIGPIPE).
  if [ -x "$BIN" ] && [ "$("$BIN" version 2>/dev/null | sed -n 1p)" = "Consul v$CONSUL_VERSION" ]; then
    return 0
  fi
  "$HELLO_REPO_ROOT/testbed/apt-install.sh" unzip openssl curl
  local dir zip tmp
  dir="$("$HELLO_REPO_ROOT/testbed/artifacts.sh" consul "$CONSUL_VERSION")" || die "testbed/artifacts.sh consul $CONSUL_VERSION failed"
  zip="$dir/consul_${CONSUL_VERSION}_linux_amd64.zip"
  [ -f "$zip" ] || die "testbed/artifacts.sh printed $dir, which has no consul_${CONSUL_VERSION}_linux_amd64.zip"
  make_dir
  mkdir -p "$CONSUL_DIR/$CONSUL_VERSION"
  tmp="$(mktemp -d "$CONSUL_DIR/$CONSUL_VERSION/.unzip.XXXXXX")"
  unzip -q -o "$zip" consul -d "$tmp" || { rm -rf "$tmp"; die "cannot unzip $zip"; }
  chmod 0755 "$tmp/consul"
  mv -f "$tmp/consul" "$BIN"
  rmdir "$tmp"
  [ "$("$BIN" version | sed -n 1p)" = "Consul v$CONSUL_VERSION" ] || die "$BIN does not report Consul v$CONSUL_VERSION"
  log "consul $CONSUL_VERSION unpacked to $BIN"
}

ensure_token() {
  make_dir
  if [ ! -s "$TOKEN_FILE" ]; then
    (umask 077 && cat /proc/sys/kernel/random/uuid > "$TOKEN_FILE")
  fi
  chmod 0600 "$TOKEN_FILE"
}

# cert_valid FILE: the certificate exists and does not expire within a day.
cert_valid() { [ -s "$1" ] && openssl x509 -in "$1" -noout -checkend 86400 >/dev/null 2>&1; }

# A throw-away CA and a server certificate for 127.0.0.1/localhost/server.dc1.consul.
ensure_tls() {
  make_dir
  mkdir -p "$TLS_DIR"
  chmod 0700 "$TLS_DIR"
  if cert_valid "$CA_CERT" && cert_valid "$TLS_DIR/server.crt" \
      && openssl verify -CAfile "$CA_CERT" "$TLS_DIR/server.crt" >/dev/null 2>&1; then
    return 0
  fi
  log "making a throw-away CA and server certificate in $TLS_DIR"
  rm -f "$TLS_DIR"/*
  (
    umask 077
    cd "$TLS_DIR"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
      -keyout ca.key -out ca.crt -subj "/CN=hello.platform local-consul test CA" \
      -addext "basicConstraints=critical,CA:true" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout server.key -out server.csr -subj "/CN=server.dc1.consul" 2>/dev/null
    printf '%s\n' "basicConstraints=CA:false" "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=serverAuth,clientAuth" \
      "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:server.dc1.consul,DNS:$NODE_NAME" > server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
      -extfile server.ext -out server.crt 2>/dev/null
    rm -f server.csr server.ext ca.srl
  ) || die "openssl could not make the test certificates in $TLS_DIR"
  chmod 0644 "$CA_CERT"
}

# The agent's configuration, on stdout (it holds the management token: written with umask 077).
render_config() {
  local token offset=$((CONSUL_PORT - 8501))
  token="$(cat "$TOKEN_FILE")"
  cat <<EOF
# hello.platform throw-away test agent (testbed/local-consul.sh): consul $CONSUL_VERSION -dev.
datacenter = "dc1"
node_name = "$NODE_NAME"
bind_addr = "$CONSUL_HOST"
advertise_addr = "$CONSUL_HOST"
client_addr = "$CONSUL_HOST"
log_level = "INFO"
ports {
  http = -1
  https = $CONSUL_PORT
  grpc = -1
  grpc_tls = -1
  dns = $((8600 + offset))
  server = $((8300 + offset))
  serf_lan = $((8301 + offset))
  serf_wan = $((8302 + offset))
}
tls {
  defaults {
    ca_file = "$CA_CERT"
    cert_file = "$TLS_DIR/server.crt"
    key_file = "$TLS_DIR/server.key"
    verify_incoming = false
    verify_outgoing = false
  }
}
acl {
  enabled = true
  default_policy = "deny"
  down_policy = "extend-cache"
  enable_token_persistence = false
  tokens {
    initial_management = "$token"
    agent = "$token"
  }
}
EOF
}

pid() { [ -s "$PID_FILE" ] && cat "$PID_FILE"; }

# The process in the pid file is our consul agent (not a recycled pid).
process_running() {
  local p
  p="$(pid)" || return 1
  [ -r "/proc/$p/cmdline" ] && tr '\0' ' ' < "/proc/$p/cmdline" | grep -q -- "-config-file=$CONFIG_FILE"
}

# api GET PATH: curl the agent with the management token; prints the body, fails on HTTP errors.
api() {
  curl -fsS --max-time 5 --cacert "$CA_CERT" -H "X-Consul-Token: $(cat "$TOKEN_FILE")" "$URL$1"
}

# The API answers over TLS, has a leader, knows the management token and lists its own node.
ready() {
  [ -s "$TOKEN_FILE" ] || return 1
  [ -s "$CA_CERT" ] || return 1
  api /v1/acl/token/self >/dev/null 2>&1 || return 1
  api "/v1/catalog/node/$NODE_NAME" 2>/dev/null | grep -q '"Node"'
}

running() { process_running && ready; }

stop_agent() {
  local p i
  p="$(pid)" || return 0
  if process_running; then
    log "stopping the Consul agent (pid $p)"
    kill -TERM "$p" 2>/dev/null || true
    for i in $(seq 1 40); do
      process_running || break
      [ "$i" -eq 40 ] && { log "the agent did not stop within 20 s: killing it"; kill -KILL "$p" 2>/dev/null || true; }
      sleep 0.5
    done
  fi
  rm -f "$PID_FILE"
}

start() {
  ensure_binary
  ensure_token
  ensure_tls
  local new
  new="$(render_config)"
  if process_running; then
    if [ "$new" = "$(cat "$CONFIG_FILE" 2>/dev/null)" ] && ready; then
      log "Consul on $URL is already running (pid $(pid))"
      return 0
    fi
    # Another port, new certificates or a new token (cache deleted), or an agent that stopped answering.
    log "the Consul agent runs with an outdated configuration or does not answer: restarting it"
    stop_agent
  fi
  (umask 077 && printf '%s\n' "$new" > "$CONFIG_FILE")
  # `consul validate` knows no -dev: a data_dir (never created by validate) stands in for it.
  printf 'data_dir = "%s"\n' "$CONSUL_DIR/validate-only" > "$CONSUL_DIR/validate-dev.hcl"
  "$BIN" validate "$CONFIG_FILE" "$CONSUL_DIR/validate-dev.hcl" >/dev/null 2>&1 || {
    "$BIN" validate "$CONFIG_FILE" "$CONSUL_DIR/validate-dev.hcl" >&2 || true
    die "consul rejects $CONFIG_FILE (output above)"
  }
  log "starting Consul $CONSUL_VERSION (dev mode, ACLs default-deny) on $URL"
  # setsid: the agent outlives this script and its caller's terminal; stdin from /dev/null.
  setsid "$BIN" agent -dev "-config-file=$CONFIG_FILE" >"$LOG_FILE" 2>&1 </dev/null &
  echo $! > "$PID_FILE"
  local i
  for i in $(seq 1 120); do
    if ! process_running; then
      tail -n 30 "$LOG_FILE" >&2 || true
      die "the Consul agent exited at start (is port $CONSUL_PORT or $((CONSUL_PORT - 201))-$((CONSUL_PORT + 99)) taken? log above and in $LOG_FILE)"
    fi
    ready && { log "Consul on $URL is ready (pid $(pid), ${i}x0.5 s)"; return 0; }
    sleep 0.5
  done
  tail -n 30 "$LOG_FILE" >&2 || true
  stop_agent
  die "the Consul agent did not become ready within 60 s (log above and in $LOG_FILE)"
}

stop() {
  if process_running; then
    stop_agent
  else
    rm -f "$PID_FILE"
    log "Consul on $URL is not running"
  fi
}

print_env() {
  if [ ! -s "$TOKEN_FILE" ] || [ ! -s "$CA_CERT" ]; then
    die "no test agent yet: run testbed/local-consul.sh start"
  fi
  printf 'export CONSUL_HTTP_ADDR=%q\n' "$URL"
  printf 'export CONSUL_HTTP_TOKEN=%q\n' "$(cat "$TOKEN_FILE")"
  printf 'export CONSUL_CACERT=%q\n' "$CA_CERT"
}

destroy() {
  stop
  log "deleting the test agent's token, certificates, configuration and log in $CONSUL_DIR"
  rm -rf "$TLS_DIR" "$TOKEN_FILE" "$CONFIG_FILE" "$CONSUL_DIR/validate-dev.hcl" "$LOG_FILE" "$PID_FILE"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) running ;;
  env) print_env ;;
  destroy) destroy ;;
  *) die "usage: $0 start|stop|status|env|destroy" ;;
esac
