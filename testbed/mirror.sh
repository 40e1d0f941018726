#!/usr/bin/env bash
# The test bed's artifact mirror: a container serving $HELLO_CACHE_DIR/mirror
# read-only over HTTP on the lab network.
#
#   testbed/mirror.sh up     ensure network $HELLO_NETWORK and container hello-mirror
#                            (alias 'mirror', port 8080) run from the base image
#   testbed/mirror.sh url    print the URL other lab containers use
#   testbed/mirror.sh down   remove the container (and the network when unused)
#
# The image is $HELLO_BASE_IMAGE, or whatever testbed/base-image.sh prints.
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MIRROR_NAME="${HELLO_MIRROR_NAME:-hello-mirror}"
MIRROR_ALIAS=mirror
MIRROR_PORT=8080
MIRROR_DIR="$HELLO_CACHE_DIR/mirror"
MIRROR_URL="http://$MIRROR_NAME:$MIRROR_PORT"
WAIT_SECONDS="${HELLO_MIRROR_WAIT:-30}"

usage() { printf 'usage: %s up|down|url\n' "$0" >&2; exit 2; }

need_engine() {
  docker info >/dev/null 2>&1 || die "no Docker engine answers; run testbed/docker-engine.sh"
}

container_state() { docker container inspect -f "$1" "$MIRROR_NAME" 2>/dev/null; }

ensure_network() {
  local ip_range subnet attached
  ip_range="$(hello_ip_range)"
  if docker network inspect "$HELLO_NETWORK" >/dev/null 2>&1; then
    subnet="$(docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}} {{.IPRange}}{{end}}' "$HELLO_NETWORK")"
    [[ "$subnet" == "$HELLO_SUBNET $ip_range" ]] && return 0
    # An older test bed created the network without a fixed subnet: recreate it if only the mirror uses it.
    attached="$(docker network inspect -f '{{range .Containers}}{{.Name}} {{end}}' "$HELLO_NETWORK")"
    attached="${attached//$MIRROR_NAME/}"
    [[ -z "${attached// /}" ]] ||
      die "network $HELLO_NETWORK has subnet '$subnet', not '$HELLO_SUBNET $ip_range', and containers use it ($attached): remove them (make lab-down; molecule destroy --all) and run again"
    log "recreating docker network $HELLO_NETWORK with subnet $HELLO_SUBNET (was '$subnet')"
    docker rm -f "$MIRROR_NAME" >/dev/null 2>&1 || true
    docker network rm "$HELLO_NETWORK" >/dev/null
  fi
  log "creating docker network $HELLO_NETWORK ($HELLO_SUBNET, dynamic addresses from $ip_range)"
  # Tolerate a concurrent creator.
  docker network create --driver bridge --subnet "$HELLO_SUBNET" --ip-range "$ip_range" "$HELLO_NETWORK" >/dev/null 2>&1 ||
    docker network inspect "$HELLO_NETWORK" >/dev/null 2>&1 ||
    die "could not create docker network $HELLO_NETWORK with subnet $HELLO_SUBNET (does it overlap a network of this host? set HELLO_SUBNET)"
}

mirror_up() {
  need_engine
  local image image_id
  image="${HELLO_BASE_IMAGE:-$("$HELLO_REPO_ROOT/testbed/base-image.sh")}"
  [[ -n "$image" ]] || die "no base image (HELLO_BASE_IMAGE empty and base-image.sh printed nothing)"
  image_id="$(docker image inspect -f '{{.Id}}' "$image")" || die "image $image not found"
  mkdir -p "$MIRROR_DIR"
  ensure_network

  # Keep a running container only if it matches what we would start now.
  if container_state '{{.Id}}' >/dev/null; then
    local reason=""
    if [[ "$(container_state '{{.Image}}')" != "$image_id" ]]; then
      reason="its image is not $image"
    elif [[ "$(container_state '{{.State.Running}}')" != true ]]; then
      reason="it is not running"
    elif [[ "$(container_state '{{range .Mounts}}{{if eq .Destination "/srv/mirror"}}{{.Source}}{{end}}{{end}}')" != "$MIRROR_DIR" ]]; then
      reason="it does not serve $MIRROR_DIR"
    elif [[ -z "$(container_state "{{with index .NetworkSettings.Networks \"$HELLO_NETWORK\"}}{{.NetworkID}}{{end}}")" ]]; then
      reason="it is not on network $HELLO_NETWORK"
    fi
    if [[ -n "$reason" ]]; then
      log "recreating $MIRROR_NAME: $reason"
      docker rm -f "$MIRROR_NAME" >/dev/null
    fi
  fi

  if ! container_state '{{.Id}}' >/dev/null; then
    log "starting $MIRROR_NAME from $image, serving $MIRROR_DIR"
    # --init: python as PID 1 would ignore SIGTERM/SIGRTMIN+3 and stall `docker stop`.
    docker run -d --name "$MIRROR_NAME" \
      --init --restart unless-stopped \
      --network "$HELLO_NETWORK" --network-alias "$MIRROR_ALIAS" \
      -v "$MIRROR_DIR:/srv/mirror:ro" \
      --label hello.platform.role=mirror \
      "$image" \
      python3 -m http.server "$MIRROR_PORT" --directory /srv/mirror >/dev/null
  fi

  local i
  for ((i = 0; i < WAIT_SECONDS; i++)); do
    if docker exec "$MIRROR_NAME" curl -fsS -o /dev/null "http://127.0.0.1:$MIRROR_PORT/" 2>/dev/null; then
      log "$MIRROR_NAME answers at $MIRROR_URL (alias http://$MIRROR_ALIAS:$MIRROR_PORT) on $HELLO_NETWORK"
      return 0
    fi
    if [[ "$(container_state '{{.State.Running}}')" != true ]]; then
      docker logs --tail 20 "$MIRROR_NAME" >&2 || true
      die "$MIRROR_NAME stopped"
    fi
    sleep 1
  done
  docker logs --tail 20 "$MIRROR_NAME" >&2 || true
  die "$MIRROR_NAME did not answer within ${WAIT_SECONDS}s"
}

mirror_down() {
  need_engine
  if container_state '{{.Id}}' >/dev/null; then
    log "removing $MIRROR_NAME"
    docker rm -f "$MIRROR_NAME" >/dev/null
  fi
  if docker network inspect "$HELLO_NETWORK" >/dev/null 2>&1; then
    local users
    # Stopped containers count too: they need the network when they start.
    users="$(docker ps -aq --filter "network=$HELLO_NETWORK" | wc -l)"
    if [[ "$users" -eq 0 ]]; then
      log "removing unused docker network $HELLO_NETWORK"
      docker network rm "$HELLO_NETWORK" >/dev/null 2>&1 || log "network $HELLO_NETWORK still in use; kept"
    else
      log "keeping network $HELLO_NETWORK ($users container(s) still attached)"
    fi
  fi
}

[[ $# -eq 1 ]] || usage
case "$1" in
  up) mirror_up ;;
  down) mirror_down ;;
  url) printf '%s\n' "$MIRROR_URL" ;;
  *) usage ;;
esac
