# shellcheck shell=bash
# Common helpers for the hello.platform test bed. Source it; do not run it.
# Everything the test bed caches lives outside the repository, under HELLO_CACHE_DIR.
set -euo pipefail

HELLO_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HELLO_CACHE_DIR="${HELLO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hello-platform}"
# Docker network shared by the lab, molecule scenarios and the artifact mirror.
HELLO_NETWORK="${HELLO_NETWORK:-hello-lab}"
# Its /16 subnet: the lower half is handed out by Docker (the mirror), the upper half holds the
# fixed address each lab or molecule container derives from its name (testbed/ansible/containers.yml),
# so a container keeps its address across restarts, as a real host does.
HELLO_SUBNET="${HELLO_SUBNET:-172.30.0.0/16}"
export HELLO_REPO_ROOT HELLO_CACHE_DIR HELLO_NETWORK HELLO_SUBNET

# The dynamic half of HELLO_SUBNET (a.b.0.0/17); dies unless HELLO_SUBNET is an a.b.0.0/16.
hello_ip_range() {
  [[ "$HELLO_SUBNET" =~ ^([0-9]+\.[0-9]+)\.0\.0/16$ ]] ||
    die "HELLO_SUBNET must be a /16 written a.b.0.0/16 (got '$HELLO_SUBNET')"
  printf '%s.0.0/17\n' "${BASH_REMATCH[1]}"
}

log() { printf '[testbed] %s\n' "$*" >&2; }

# apt-get for the test bed's own installs on the controller. `make test` prepares the test bed in the
# background while other stages may install packages too (testbed/background.sh): our installs take
# turns on one lock, and wait for a dpkg lock held by anything else instead of failing.
apt_get() {
  mkdir -p "$HELLO_CACHE_DIR"
  DEBIAN_FRONTEND=noninteractive flock "$HELLO_CACHE_DIR/apt.lock" \
    apt-get -o DPkg::Lock::Timeout=600 "$@"
}
die() { printf '[testbed] ERROR: %s\n' "$*" >&2; exit 1; }

# deb_tool PACKAGE: a Debian package's files, unpacked (never installed: no service starts) into
# $HELLO_CACHE_DIR/tools/PACKAGE once, and that directory printed. For tools the tests run from a
# package, such as promtool. `apt-get update` runs only when the download fails.
deb_tool() {
  local pkg=$1 dir="$HELLO_CACHE_DIR/tools/$1" work deb
  if [[ -d $dir/usr ]]; then printf '%s\n' "$dir"; return 0; fi
  if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
    die "$pkg is not cached and apt-get/dpkg-deb are missing"
  fi
  mkdir -p "$HELLO_CACHE_DIR/tools"
  work="$(mktemp -d "$HELLO_CACHE_DIR/tools/.$pkg.XXXXXX")"
  log "downloading Debian's $pkg package into $HELLO_CACHE_DIR/tools"
  if ! (cd "$work" && apt_get download "$pkg" >"$work/apt.log" 2>&1); then
    log "apt-get download failed ($(tail -n 1 "$work/apt.log")): apt-get update, then again"
    apt_get update -qq >"$work/apt.log" 2>&1 || { rm -rf "$work"; die "apt-get update failed"; }
    (cd "$work" && apt_get download "$pkg" >"$work/apt.log" 2>&1) ||
      { cat "$work/apt.log" >&2; rm -rf "$work"; die "apt-get download $pkg failed"; }
  fi
  deb="$(find "$work" -maxdepth 1 -name "${pkg}_*.deb" -print -quit)"
  [[ -n $deb ]] || { rm -rf "$work"; die "apt-get download left no ${pkg}_*.deb"; }
  dpkg-deb -x "$deb" "$work/root"
  rm -rf "$dir"
  mv "$work/root" "$dir"
  rm -rf "$work"
  printf '%s\n' "$dir"
}
