#!/usr/bin/env bash
# Build vendor release artifacts from source, fetched through the Go module proxy with the
# ordinary `go` client, and lay them out exactly like the vendor's release site, so that a
# plain HTTP server rooted at $HELLO_CACHE_DIR/mirror can stand in for it.
#
#   usage: testbed/artifacts.sh PRODUCT VERSION      e.g. testbed/artifacts.sh consul 1.16.1
#
# Products: consul (HashiCorp layout), minio (MinIO's layout). loki and promtail are meant to
# become further cases of build_artifacts below.
#
# Layout (HashiCorp):
#   $HELLO_CACHE_DIR/mirror/consul/1.16.1/consul_1.16.1_linux_amd64.zip   (holds `consul`)
#   $HELLO_CACHE_DIR/mirror/consul/1.16.1/consul_1.16.1_SHA256SUMS
# Layout (MinIO, dl.min.io/server/minio/release/linux-amd64/archive/):
#   $HELLO_CACHE_DIR/mirror/minio/archive/minio.RELEASE.2026-02-12T20-18-48Z            (the binary)
#   $HELLO_CACHE_DIR/mirror/minio/archive/minio.RELEASE.2026-02-12T20-18-48Z.sha256sum
#   (hard links to the files of the version directory $HELLO_CACHE_DIR/mirror/minio/RELEASE.…/)
#
# If the version directory is already complete and its checksums verify, nothing is built.
# Otherwise everything is built in temporary directories and the version directory is moved
# into place in one rename, so a half-built artifact is never cached.  The Go module and build
# caches live under $HELLO_CACHE_DIR/go, so a rebuild is fast and nothing lands in the repo.
# On success the version directory's path is printed on stdout; progress goes to stderr.

# shellcheck source-path=SCRIPTDIR source=lib.sh disable=SC1091  # followed with shellcheck -x
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mkdir -p "$HELLO_CACHE_DIR"
HELLO_CACHE_DIR="$(cd "$HELLO_CACHE_DIR" && pwd)"
MIRROR_DIR="$HELLO_CACHE_DIR/mirror"
GO_DIR="$HELLO_CACHE_DIR/go"
GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"

# Only linux/amd64 is needed by the lab; the layout helpers take os/arch from here.
TARGET_OS=linux
TARGET_ARCH=amd64

usage() { printf 'usage: %s PRODUCT VERSION   (products: consul, minio)\n' "${0##*/}" >&2; exit 2; }

# ensure_cmd COMMAND [DEBIAN_PACKAGE]: install the package with apt-get if COMMAND is missing;
# `apt-get update` is run only if the first install attempt fails.
ensure_cmd() {
  local cmd=$1 pkg=${2:-$1} apt=(apt_get)
  command -v "$cmd" >/dev/null 2>&1 && return 0
  command -v apt-get >/dev/null 2>&1 || die "$cmd is missing and apt-get is not available"
  [[ $(id -u) -eq 0 ]] || apt=(sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600)
  log "installing $pkg"
  if ! "${apt[@]}" install -y -qq "$pkg" >&2; then
    "${apt[@]}" update -qq >&2
    "${apt[@]}" install -y -qq "$pkg" >&2
  fi
  command -v "$cmd" >/dev/null 2>&1 || die "could not install $pkg"
}

# Go environment: every cache under $HELLO_CACHE_DIR/go, static binaries, no workspace files.
# -modcacherw keeps the module cache deletable with a plain `rm -rf`.
setup_go() {
  [[ -x $GO ]] || command -v "$GO" >/dev/null 2>&1 || die "go not found (set GO=/path/to/go)"
  export GOPATH="$GO_DIR/path" GOMODCACHE="$GO_DIR/mod" GOCACHE="$GO_DIR/build"
  export CGO_ENABLED=0 GOOS=$TARGET_OS GOARCH=$TARGET_ARCH GOWORK=off GOFLAGS=-modcacherw
  mkdir -p "$GOPATH" "$GOMODCACHE" "$GOCACHE"
}

# verify_dir DIR SUMSFILE: every file SUMSFILE names exists in DIR and matches.
verify_dir() {
  local dir=$1 sums=$2
  [[ -s $dir/$sums ]] || return 1
  (cd "$dir" && sha256sum --check --strict --status "$sums") 2>/dev/null
}

# package_hashicorp NAME VERSION BINARY STAGING EPOCH: HashiCorp's release layout.
# The zip holds the single file NAME at its root; timestamps are pinned to EPOCH and extra
# fields dropped (-X) so the same binary always gives the same zip.
package_hashicorp() {
  local name=$1 version=$2 binary=$3 staging=$4 epoch=$5
  local zipname="${name}_${version}_${TARGET_OS}_${TARGET_ARCH}.zip"
  local sums="${name}_${version}_SHA256SUMS"
  local zdir="$WORK/zip"
  mkdir -p "$zdir"
  install -m 0755 "$binary" "$zdir/$name"
  touch -d "@$epoch" "$zdir/$name"
  (cd "$zdir" && TZ=UTC zip -q -X "$staging/$zipname" "$name")
  chmod 0644 "$staging/$zipname"
  (cd "$staging" && sha256sum "$zipname" >"$sums")
  chmod 0644 "$staging/$sums"
}

# go_module_json MODULE@VERSION: `go mod download -json`, failing loudly on error.
go_module_json() {
  local out
  out=$("$GO" mod download -json "$1") || die "go mod download $1 failed: $(jq -r '.Error // empty' <<<"$out")"
  printf '%s\n' "$out"
}

# wrapper_module MODULE VERSION: turn $WORK/src into a throwaway main module that depends on
# MODULE@VERSION with exactly MODULE's own build list.  MODULE's go.mod is copied (requires,
# excludes and non-local replaces carry over as is); its directory replaces (./api, ...) are
# dropped, so those submodules come from the proxy at the versions MODULE requires them at.
# go.sum is seeded from MODULE's go.sum and those submodules' go.sum files, so hashes the
# checksum database may not serve are still checked against ones the vendor recorded.
wrapper_module() {
  local module=$1 version=$2 info dir gomod local_mods=() pending=() next=() m json
  info=$(go_module_json "$module@v$version")
  dir=$(jq -r .Dir <<<"$info")
  gomod=$(jq -r .GoMod <<<"$info")
  mkdir -p "$WORK/src"
  cd "$WORK/src" || die "cannot cd to $WORK/src"
  install -m 0644 "$gomod" go.mod
  if [[ -f $dir/go.sum ]]; then install -m 0644 "$dir/go.sum" go.sum; else : >go.sum; fi
  "$GO" mod edit -module hellobuild

  # Directory replaces: drop them, remember MODULE's required version of each.
  while IFS= read -r m; do
    [[ -n $m ]] || continue
    "$GO" mod edit -dropreplace="$m"
    local_mods+=("$(jq -r --arg p "${m%@*}" '.Require[]? | select(.Path == $p) | .Path + "@" + .Version' \
      < <("$GO" mod edit -json))")
  done < <("$GO" mod edit -json |
    jq -r '.Replace[]? | select(.New.Version == null) | .Old.Path + (if .Old.Version then "@" + .Old.Version else "" end)')
  "$GO" mod edit -require="$module@v$version"

  # Fetch the submodules; each one fetched adds its go.sum, which may vouch for another.
  pending=("${local_mods[@]}")
  while ((${#pending[@]})); do
    next=()
    for m in "${pending[@]}"; do
      [[ $m == *@* ]] || die "$module@v$version replaces ${m} locally but does not require it"
      if json=$("$GO" mod download -json "$m" 2>/dev/null); then
        dir=$(jq -r .Dir <<<"$json")
        if [[ -f $dir/go.sum ]]; then cat "$dir/go.sum" >>go.sum; fi
      else
        next+=("$m")
      fi
    done
    if ((${#next[@]} == ${#pending[@]})); then
      "$GO" mod download -json "${next[@]}" | jq -r '.Error // empty' >&2 || true
      die "cannot download: ${next[*]}"
    fi
    pending=("${next[@]}")
  done
  sort -u -o go.sum go.sum
  log "wrapper module: $module@v$version with ${local_mods[*]:-no local submodules}"
}

# --- products ------------------------------------------------------------------------------

build_consul() {
  local version=$1 staging=$2 module=github.com/hashicorp/consul info commit date epoch license bin reported
  wrapper_module "$module" "$version"
  info=$(go_module_json "$module@v$version")
  # Same version ldflags as Consul's GNUmakefile (GitCommit, BuildDate); Version and
  # VersionPrerelease come from the embedded version/VERSION file.
  commit=$(jq -r '.Origin.Hash // empty' <<<"$info")
  [[ -n $commit ]] || log "warning: the proxy gave no commit for $module@v$version; Revision stays empty"
  date=$(jq -r .Time "$(jq -r .Info <<<"$info")")
  epoch=$(date -u -d "$date" +%s)
  license=$(grep -m1 -E 'License' "$(jq -r .Dir <<<"$info")/LICENSE" || echo unknown)
  log "consul $version: commit ${commit:-?}, date $date, license: $license"

  bin="$WORK/bin/consul"
  log "building consul $version (slow when cold)"
  "$GO" build -mod=mod -trimpath -o "$bin" \
    -ldflags "-s -w -X $module/version.GitCommit=${commit:0:8} -X $module/version.BuildDate=$date" \
    "$module"
  # Read the whole output first: `grep -q` in a pipe can exit before the writer is done, and
  # with pipefail the writer's SIGPIPE fails the pipeline even though the line matched.
  reported=$("$bin" version)
  grep -q "^Consul v$version\$" <<<"$reported" || die "built binary does not report Consul v$version: $reported"
  package_hashicorp consul "$version" "$bin" "$staging" "$epoch"
}

# MinIO publishes no Go module versions: its releases are tags RELEASE.<UTC time>, and the proxy
# serves commits as pseudo-versions. This table maps each release we use to the commit it is built
# from (the newest commit the proxy serves; MinIO's repository stopped taking changes in 2026).
minio_pseudo_version() {
  case $1 in
    RELEASE.2026-02-12T20-18-48Z) echo v0.0.0-20260212201848-7aac2a2c5b7c ;;
    *) die "minio $1: no commit known for this release; add it to minio_pseudo_version in ${BASH_SOURCE[0]}" ;;
  esac
}

build_minio() {
  local version=$1 staging=$2 module=github.com/minio/minio pseudo info commit date epoch rfc3339 bin reported
  pseudo=$(minio_pseudo_version "$version")
  info=$(go_module_json "$module@$pseudo")
  commit=${pseudo##*-}
  date=$(jq -r .Time "$(jq -r .Info <<<"$info")")
  epoch=$(date -u -d "$date" +%s)
  rfc3339=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
  [[ "RELEASE.$(date -u -d "@$epoch" +%Y-%m-%dT%H-%M-%SZ)" == "$version" ]] ||
    die "minio $version: commit $commit is from $rfc3339; the release tag must name that time"
  log "minio $version: module $module@$pseudo (commit $commit, $rfc3339), license: $(head -c 60 "$(jq -r .Dir <<<"$info")/LICENSE" | tr -s ' \n' ' ')"
  mkdir -p "$WORK/src"
  cd "$WORK/src" || die "cannot cd to $WORK/src"
  # Same version ldflags as MinIO's buildscripts/gen-ldflags.go.
  bin="$WORK/bin/minio"
  log "building minio $version (slow when cold)"
  GOBIN="$WORK/bin" "$GO" install -trimpath \
    -ldflags "-s -w -X $module/cmd.Version=$rfc3339 -X $module/cmd.CopyrightYear=${rfc3339:0:4} -X $module/cmd.ReleaseTag=$version -X $module/cmd.CommitID=$commit -X $module/cmd.ShortCommitID=${commit:0:12}" \
    "$module@$pseudo"
  reported=$("$bin" --version)
  grep -q "^minio version $version " <<<"$reported" || die "built binary does not report minio version $version: $reported"
  install -m 0755 "$bin" "$staging/minio.$version"
  touch -d "@$epoch" "$staging/minio.$version"
  (cd "$staging" && sha256sum "minio.$version" >"minio.$version.sha256sum")
  chmod 0644 "$staging/minio.$version.sha256sum"
}

# publish_minio VERSIONDIR VERSION: hard links in mirror/minio/archive, MinIO's flat release layout.
publish_minio() {
  local dir=$1 version=$2 archive="$MIRROR_DIR/minio/archive"
  mkdir -p "$archive"
  ln -f "$dir/minio.$version" "$archive/minio.$version"
  ln -f "$dir/minio.$version.sha256sum" "$archive/minio.$version.sha256sum"
}

# Per-product dispatch.  A new product (loki, promtail) needs a build_<product>
# function and a case in both functions below.

# sums_name PRODUCT VERSION: the checksum file that marks a complete version directory.
sums_name() {
  case $1 in
    consul) echo "${1}_${2}_SHA256SUMS" ;;
    minio) echo "minio.${2}.sha256sum" ;;
    *) die "unknown product: $1 (known: consul, minio)" ;;
  esac
}

# build_artifacts PRODUCT VERSION STAGING: build the release files into STAGING.
# Not to be called in a command substitution: errexit would not apply inside it.
build_artifacts() {
  case $1 in
    consul) build_consul "$2" "$3" ;;
    minio) build_minio "$2" "$3" ;;
    *) die "unknown product: $1" ;;
  esac
}

main() {
  [[ $# -eq 2 ]] || usage
  local product=$1 version=${2#v} dest sums staging
  if [[ $product == minio ]]; then
    [[ $version =~ ^RELEASE\.[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}-[0-9]{2}-[0-9]{2}Z$ ]] || die "bad minio release tag: $2"
  else
    [[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]] || die "bad version: $2"
  fi
  sums=$(sums_name "$product" "$version")
  dest="$MIRROR_DIR/$product/$version"

  mkdir -p "$MIRROR_DIR/$product" "$HELLO_CACHE_DIR/locks"
  # One builder per product/version at a time; a second one waits and then finds the cache.
  exec 9>"$HELLO_CACHE_DIR/locks/$product-$version.lock"
  flock 9

  if verify_dir "$dest" "$sums"; then
    log "$product $version: cached"
    if [[ $product == minio ]]; then publish_minio "$dest" "$version"; fi
    printf '%s\n' "$dest"
    return 0
  fi

  ensure_cmd jq
  ensure_cmd zip
  setup_go
  # Leftovers of an interrupted run (we hold the lock, so nobody else is using them).
  rm -rf "$MIRROR_DIR/$product/.staging.$version."* "$HELLO_CACHE_DIR/work.$product-$version."*
  WORK=$(mktemp -d "$HELLO_CACHE_DIR/work.$product-$version.XXXXXX")
  # Same filesystem as $dest, so the final mv is a rename.
  staging=$(mktemp -d "$MIRROR_DIR/$product/.staging.$version.XXXXXX")
  # shellcheck disable=SC2064  # expand now: the paths are fixed
  trap "rm -rf '$WORK' '$staging'" EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  build_artifacts "$product" "$version" "$staging"
  verify_dir "$staging" "$sums" || die "fresh artifacts fail their own checksums"
  chmod 0755 "$staging"
  rm -rf "$dest"
  mv -T "$staging" "$dest"
  if [[ $product == minio ]]; then publish_minio "$dest" "$version"; fi
  log "$product $version: built"
  printf '%s\n' "$dest"
}

main "$@"
