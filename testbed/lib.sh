# shellcheck shell=bash
# Common helpers for the hello.platform test bed. Source it; do not run it.
# Everything the test bed caches lives outside the repository, under HELLO_CACHE_DIR.
set -euo pipefail

HELLO_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HELLO_CACHE_DIR="${HELLO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hello-platform}"
# Docker network shared by the lab, molecule scenarios and the artifact mirror.
HELLO_NETWORK="${HELLO_NETWORK:-hello-lab}"
export HELLO_REPO_ROOT HELLO_CACHE_DIR HELLO_NETWORK

log() { printf '[testbed] %s\n' "$*" >&2; }
die() { printf '[testbed] ERROR: %s\n' "$*" >&2; exit 1; }
