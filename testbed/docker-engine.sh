#!/usr/bin/env bash
# Make sure a Docker engine answers `docker info`.
#
# - If one already answers: do nothing.
# - As root: install Debian's docker.io (and iptables) when dockerd is missing,
#   then start the engine: `systemctl start docker` when systemd is PID 1,
#   otherwise a detached `dockerd` logging to $HELLO_CACHE_DIR/dockerd.log.
# - Not root and no engine: fail with a hint.
# Idempotent: running it again once the engine is up is a no-op.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WAIT_SECONDS="${HELLO_DOCKER_WAIT:-60}"

engine_answers() { docker info >/dev/null 2>&1; }

if command -v docker >/dev/null 2>&1 && engine_answers; then
  log "docker engine already answers"
  exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
  die "no Docker engine answers 'docker info'. Start one (e.g. 'sudo systemctl start docker'), \
add yourself to the 'docker' group, or run 'sudo $0' to install and start Debian's docker.io."
fi

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker >/dev/null 2>&1 || missing+=(docker.io)
command -v iptables >/dev/null 2>&1 || missing+=(iptables)
if ((${#missing[@]})); then
  # de-duplicate
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  log "installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt_get update -qq >&2
  apt_get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

if [[ "$(ps -p 1 -o comm= 2>/dev/null)" == systemd ]] && command -v systemctl >/dev/null 2>&1; then
  log "starting docker with systemctl"
  systemctl start docker >&2
else
  # No systemd: run dockerd detached so it outlives this script.
  if pgrep -x dockerd >/dev/null 2>&1; then
    log "dockerd already running; waiting for it to answer"
  else
    mkdir -p "$HELLO_CACHE_DIR"
    log "starting dockerd in the background (log: $HELLO_CACHE_DIR/dockerd.log)"
    # A stale pid file from a killed dockerd stops a new one from starting.
    if [[ -f /var/run/docker.pid ]] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
      rm -f /var/run/docker.pid
    fi
    (
      # Close every inherited descriptor above stderr, so a caller's pipe (e.g.
      # `x=$(testbed/docker-engine.sh)`) is not held open by dockerd forever.
      for fdpath in /proc/"$BASHPID"/fd/*; do
        fd="${fdpath##*/}"
        if ((fd > 2)); then eval "exec ${fd}>&-"; fi
      done
      cd /
      exec setsid nohup dockerd >>"$HELLO_CACHE_DIR/dockerd.log" 2>&1 </dev/null
    ) &
    disown || true
  fi
fi

for ((i = 0; i < WAIT_SECONDS; i++)); do
  if engine_answers; then
    log "docker engine is up ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
    exit 0
  fi
  sleep 1
done
die "docker engine did not answer within ${WAIT_SECONDS}s; see $HELLO_CACHE_DIR/dockerd.log"
