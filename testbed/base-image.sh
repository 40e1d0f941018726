#!/usr/bin/env bash
# Build (once) the Debian 12 systemd base image of the test bed and print its
# reference on stdout -- nothing else goes to stdout, so
#   HELLO_BASE_IMAGE=$(testbed/base-image.sh)
# works. Logs go to stderr.
#
# Stage 1, the base: debootstrap --variant=minbase bookworm with
#   testbed/image/packages.txt, customized by testbed/image/customize.sh in the
#   chroot, packed as a deterministic tar and `docker import`ed. No registry.
#   Tag: hello-platform/debian12-systemd:<12 hex of sha256(recipe files + this script)>.
# Stage 2, the CA layer: the certificates of HELLO_EXTRA_CA_BUNDLE (default: the
#   controller's /etc/ssl/certs/ca-certificates.crt; empty string disables) are
#   added with update-ca-certificates, so HTTPS through a TLS-inspecting proxy
#   works in the containers. Tag: ...:<12 hex of sha256(base tag + bundle content)>.
# Each stage is skipped when `docker image inspect` finds its tag.
#
# Environment:
#   HELLO_DEBIAN_MIRROR           debootstrap/apt mirror (default http://deb.debian.org/debian)
#   HELLO_DEBIAN_SECURITY_MIRROR  apt security mirror in the image (default http://deb.debian.org/debian-security)
#   HELLO_EXTRA_CA_BUNDLE         PEM bundle to trust in the image ('' = none)
#   HELLO_IMAGE_REPO              image repository (default hello-platform/debian12-systemd)
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Everything below logs to stderr; the final reference goes to fd 3 (stdout).
exec 3>&1 1>&2

IMAGE_REPO="${HELLO_IMAGE_REPO:-hello-platform/debian12-systemd}"
RECIPE_DIR="$HELLO_REPO_ROOT/testbed/image"
SUITE=bookworm
# Fixed timestamp for every file of the image (2024-01-01T00:00:00Z): the
# image content depends on the recipe, not on the build day.
export SOURCE_DATE_EPOCH=1704067200
export HELLO_DEBIAN_MIRROR="${HELLO_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
export HELLO_DEBIAN_SECURITY_MIRROR="${HELLO_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
EXTRA_CA_BUNDLE="${HELLO_EXTRA_CA_BUNDLE-/etc/ssl/certs/ca-certificates.crt}"
# Same config for the imported base and the committed CA layer.
STOP_SIGNAL='SIGRTMIN+3'
IMAGE_CHANGES=(
  --change 'CMD ["/lib/systemd/systemd"]'
  --change 'ENV container=docker'
  --change "STOPSIGNAL $STOP_SIGNAL"
)
# Older engines (Debian's docker.io 20.10) reject STOPSIGNAL in import/commit
# --change; then the changes go without it and ensure_stopsignal adds it.
IMAGE_CHANGES_COMPAT=("${IMAGE_CHANGES[@]:0:4}")

command -v docker >/dev/null 2>&1 || die "docker CLI not found; run testbed/docker-engine.sh"
docker info >/dev/null 2>&1 || die "no Docker engine answers; run testbed/docker-engine.sh"
[[ -f "$RECIPE_DIR/packages.txt" && -f "$RECIPE_DIR/customize.sh" ]] ||
  die "recipe missing: $RECIPE_DIR/packages.txt and $RECIPE_DIR/customize.sh are required"

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# `docker import`/`docker commit` with IMAGE_CHANGES; on an engine that rejects
# STOPSIGNAL there, again without it. Usage: with_changes import|commit ARGS...
with_changes() {
  local verb="$1" err
  shift
  err="$(mktemp)"
  if docker "$verb" "${IMAGE_CHANGES[@]}" "$@" 2>"$err"; then
    rm -f "$err"
    return 0
  fi
  if grep -qi 'stopsignal' "$err"; then
    log "this engine rejects STOPSIGNAL in 'docker $verb --change'; setting it separately"
    rm -f "$err"
    docker "$verb" "${IMAGE_CHANGES_COMPAT[@]}" "$@"
  else
    cat "$err" >&2
    rm -f "$err"
    return 1
  fi
}

# Make sure image REF stops with SIGRTMIN+3 (systemd's clean shutdown signal):
# if not, a one-line legacy build (no registry, no context) adds it.
ensure_stopsignal() {
  local ref="$1" id
  [[ "$(docker image inspect -f '{{.Config.StopSignal}}' "$ref")" == "$STOP_SIGNAL" ]] && return 0
  id="$(docker image inspect -f '{{.Id}}' "$ref")"
  printf 'FROM %s\nSTOPSIGNAL %s\n' "$id" "$STOP_SIGNAL" |
    DOCKER_BUILDKIT=0 docker build -q -t "$ref" - >/dev/null
  [[ "$(docker image inspect -f '{{.Config.StopSignal}}' "$ref")" == "$STOP_SIGNAL" ]] ||
    die "could not set STOPSIGNAL $STOP_SIGNAL on $ref"
}

# Hash of the recipe: every file under testbed/image/ and this script, by
# path relative to the repository root and content. Nothing else goes in.
recipe_hash() {
  (
    cd "$HELLO_REPO_ROOT" || exit 1
    {
      find testbed/image -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
      sha256sum testbed/base-image.sh
    } | sha256sum | cut -c1-12
  )
}

BASE_TAG="$(recipe_hash)"
BASE_REF="$IMAGE_REPO:$BASE_TAG"

if [[ -n "$EXTRA_CA_BUNDLE" ]]; then
  [[ -r "$EXTRA_CA_BUNDLE" ]] || die "HELLO_EXTRA_CA_BUNDLE=$EXTRA_CA_BUNDLE is not a readable file (set it to '' to disable)"
  grep -q -- '-----BEGIN CERTIFICATE-----' "$EXTRA_CA_BUNDLE" ||
    die "HELLO_EXTRA_CA_BUNDLE=$EXTRA_CA_BUNDLE holds no PEM certificate"
  CA_SUM="$(sha256sum <"$EXTRA_CA_BUNDLE" | cut -d' ' -f1)"
  FINAL_REF="$IMAGE_REPO:$(printf '%s\n%s\n' "$BASE_REF" "$CA_SUM" | sha256sum | cut -c1-12)"
else
  FINAL_REF="$BASE_REF"
fi

if image_exists "$FINAL_REF"; then
  log "image $FINAL_REF is up to date"
  printf '%s\n' "$FINAL_REF" >&3
  exit 0
fi

mkdir -p "$HELLO_CACHE_DIR"
# One build at a time (lab, molecule and mirror may all ask for the image).
exec 9>"$HELLO_CACHE_DIR/base-image.lock"
if ! flock -n 9; then
  log "another base-image build is running; waiting for it"
  flock 9
fi

WORK=""
CA_CTR=""
cleanup() {
  local rc=$?
  if [[ -n "$CA_CTR" ]]; then docker rm -f "$CA_CTR" >/dev/null 2>&1 || true; fi
  if [[ -n "$WORK" && -d "$WORK" ]]; then
    # Unmount whatever debootstrap may have left mounted in the chroot, deepest
    # first, and never delete across a file system boundary.
    local m
    while read -r m; do
      umount -l "$m" 2>/dev/null || true
    done < <(awk -v w="$WORK/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r)
    if awk -v w="$WORK/" 'index($2, w) == 1 { found = 1 } END { exit !found }' /proc/mounts; then
      log "WARNING: mounts remain under $WORK; not deleting it"
    else
      rm -rf --one-file-system "$WORK"
    fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- stage 1: the base image ---------------------------------------------------
build_base() {
  local start=$SECONDS
  if ! command -v debootstrap >/dev/null 2>&1; then
    [[ "$(id -u)" -eq 0 ]] || die "debootstrap is missing; install it (apt-get install debootstrap) or run as root"
    log "installing debootstrap"
    apt_get update -qq
    apt_get install -y -qq --no-install-recommends debootstrap
  fi
  [[ "$(id -u)" -eq 0 ]] || die "building the base image needs root (debootstrap, chroot)"

  WORK="$(mktemp -d "$HELLO_CACHE_DIR/base-image.XXXXXX")"
  local rootfs="$WORK/rootfs" debs="$HELLO_CACHE_DIR/debootstrap-debs" include
  mkdir -p "$rootfs" "$debs"
  include="$(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$RECIPE_DIR/packages.txt" | paste -sd, -)"
  [[ -n "$include" ]] || die "$RECIPE_DIR/packages.txt lists no package"

  log "debootstrap --variant=minbase $SUITE from $HELLO_DEBIAN_MIRROR (include: $include)"
  debootstrap --variant=minbase --merged-usr --components=main \
    --cache-dir="$debs" --include="$include" \
    "$SUITE" "$rootfs" "$HELLO_DEBIAN_MIRROR"

  log "customizing the chroot with testbed/image/customize.sh"
  install -m 0755 "$RECIPE_DIR/customize.sh" "$rootfs/tmp/hello-customize.sh"
  # Keep maintainer scripts from starting services in the chroot.
  printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
  chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
  env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    SOURCE_DATE_EPOCH="$SOURCE_DATE_EPOCH" \
    HELLO_DEBIAN_MIRROR="$HELLO_DEBIAN_MIRROR" \
    HELLO_DEBIAN_SECURITY_MIRROR="$HELLO_DEBIAN_SECURITY_MIRROR" \
    chroot "$rootfs" /bin/bash /tmp/hello-customize.sh
  rm -f "$rootfs/tmp/hello-customize.sh" "$rootfs/usr/sbin/policy-rc.d"

  log "packing a deterministic tar"
  tar -C "$rootfs" -cf "$WORK/rootfs.tar" \
    --sort=name --mtime="@$SOURCE_DATE_EPOCH" --numeric-owner \
    --format=posix --pax-option='exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime' \
    --xattrs --xattrs-include='security.capability' \
    --one-file-system .
  log "rootfs tar: $(du -h "$WORK/rootfs.tar" | cut -f1), sha256 $(sha256sum "$WORK/rootfs.tar" | cut -c1-12)"

  with_changes import \
    --change "LABEL org.opencontainers.image.title=hello-platform-debian12-systemd hello.platform.recipe=$BASE_TAG" \
    --message "hello.platform test bed base, recipe $BASE_TAG" \
    "$WORK/rootfs.tar" "$BASE_REF" >/dev/null
  ensure_stopsignal "$BASE_REF"
  rm -rf --one-file-system "$WORK"
  WORK=""
  log "built $BASE_REF in $((SECONDS - start))s"
}

if image_exists "$BASE_REF"; then
  log "base image $BASE_REF is up to date"
else
  build_base
fi

# --- stage 2: the extra CA layer -------------------------------------------------
# update-ca-certificates links each *.crt of /usr/local/share/ca-certificates
# into /etc/ssl/certs and appends it to ca-certificates.crt. A bundle in ONE
# .crt would reach ca-certificates.crt, but `openssl rehash` skips files with
# more than one certificate, so the hashed /etc/ssl/certs directory (CApath
# users) would miss them: split the bundle into one file per certificate, and
# keep only the certificates the image does not already trust.
build_ca_layer() {
  local start=$SECONDS cadir n
  WORK="$(mktemp -d "$HELLO_CACHE_DIR/ca-layer.XXXXXX")"
  cadir="$WORK/ca"
  mkdir -p "$cadir"

  CA_CTR="$(docker create "$BASE_REF" /usr/sbin/update-ca-certificates)"
  docker cp "$CA_CTR:/etc/ssl/certs/ca-certificates.crt" "$WORK/image-bundle.crt"

  # Split into hello-extra-ca-NNN.crt, one certificate each; drop certificates
  # whose base64 body is already in the image's bundle.
  awk -v dir="$cadir" '
    function body(lines,   b) { b = lines; gsub(/[^A-Za-z0-9+\/=]/, "", b); return b }
    /-----BEGIN CERTIFICATE-----/ { inside = 1; pem = $0 "\n"; raw = ""; next }
    inside {
      pem = pem $0 "\n"
      if ($0 ~ /-----END CERTIFICATE-----/) {
        inside = 0
        b = body(raw)
        if (FILENAME == ARGV[1]) { known[b] = 1 }
        else if (!(b in known) && !(b in seen)) {
          seen[b] = 1; n++
          out = sprintf("%s/hello-extra-ca-%03d.crt", dir, n)
          printf "%s", pem > out; close(out)
        }
      } else { raw = raw $0 }
    }
    END { print n + 0 }
  ' "$WORK/image-bundle.crt" <(tr -d '\r' <"$EXTRA_CA_BUNDLE") >"$WORK/count"
  n="$(cat "$WORK/count")"

  if [[ "$n" -eq 0 ]]; then
    log "all certificates of $EXTRA_CA_BUNDLE are already trusted by the base image"
    docker rm -f "$CA_CTR" >/dev/null
    CA_CTR=""
    docker tag "$BASE_REF" "$FINAL_REF"
  else
    log "adding $n certificate(s) from $EXTRA_CA_BUNDLE to the image"
    chmod 0644 "$cadir"/*.crt
    docker cp "$cadir/." "$CA_CTR:/usr/local/share/ca-certificates/"
    docker start -a "$CA_CTR"
    [[ "$(docker inspect -f '{{.State.ExitCode}}' "$CA_CTR")" == 0 ]] ||
      die "update-ca-certificates failed in the CA layer container"
    with_changes commit \
      --message "hello.platform test bed: extra CA bundle ${CA_SUM:0:12}" \
      "$CA_CTR" "$FINAL_REF" >/dev/null
    ensure_stopsignal "$FINAL_REF"
    docker rm -f "$CA_CTR" >/dev/null
    CA_CTR=""
  fi
  rm -rf --one-file-system "$WORK"
  WORK=""
  log "built $FINAL_REF in $((SECONDS - start))s"
}

if [[ "$FINAL_REF" != "$BASE_REF" ]] && ! image_exists "$FINAL_REF"; then
  build_ca_layer
fi

log "image: $FINAL_REF ($(docker image inspect -f '{{.Size}}' "$FINAL_REF" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
printf '%s\n' "$FINAL_REF" >&3
