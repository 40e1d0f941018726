#!/usr/bin/env bash
# Install Debian packages on the controller when their command is missing (root only).
# Usage: testbed/apt-install.sh COMMAND[:PACKAGE] ...
# shellcheck source=testbed/lib.sh
source "$(dirname "$0")/lib.sh"
missing=()
for spec in "$@"; do
  cmd="${spec%%:*}"; pkg="${spec#*:}"
  command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
done
[ "${#missing[@]}" -eq 0 ] && exit 0
[ "$(id -u)" -eq 0 ] || die "missing ${missing[*]}: install them with apt-get (or run as root)"
log "installing ${missing[*]} with apt-get"
if ! apt_get install -y -qq --no-install-recommends "${missing[@]}" >&2; then
  apt_get update -qq >&2
  apt_get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
