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
