#!/usr/bin/env bash
# Build vendor release artifacts from source, fetched through the Go module proxy with the
# ordinary `go` client, and lay them out exactly like the vendor's release site, so that a
# plain HTTP server rooted at $HELLO_CACHE_DIR/mirror can stand in for it.
#
#   usage: testbed/artifacts.sh PRODUCT VERSION      e.g. testbed/artifacts.sh consul 1.16.1
#
# Products: consul (HashiCorp layout), minio (MinIO's layout), loki and promtail (Grafana's
# GitHub release layout; both come from the Loki module, Promtail up to Loki 3.6).
#
# Layout (HashiCorp):
#   $HELLO_CACHE_DIR/mirror/consul/1.16.1/consul_1.16.1_linux_amd64.zip   (holds `consul`)
#   $HELLO_CACHE_DIR/mirror/consul/1.16.1/consul_1.16.1_SHA256SUMS
# Layout (MinIO, dl.min.io/server/minio/release/linux-amd64/archive/):
#   $HELLO_CACHE_DIR/mirror/minio/archive/minio.RELEASE.2026-02-12T20-18-48Z            (the binary)
#   $HELLO_CACHE_DIR/mirror/minio/archive/minio.RELEASE.2026-02-12T20-18-48Z.sha256sum
#   (hard links to the files of the version directory $HELLO_CACHE_DIR/mirror/minio/RELEASE.…/)
# Layout (GitHub releases of grafana/loki, github.com/grafana/loki/releases/download/v3.6.7/):
#   $HELLO_CACHE_DIR/mirror/grafana/loki/releases/download/v3.6.7/loki-linux-amd64.zip      (holds `loki-linux-amd64`)
#   $HELLO_CACHE_DIR/mirror/grafana/loki/releases/download/v3.6.7/promtail-linux-amd64.zip  (holds `promtail-linux-amd64`)
#   $HELLO_CACHE_DIR/mirror/grafana/loki/releases/download/v3.6.7/SHA256SUMS               (the zips present there)
#   (hard links to the zips of the version directories $HELLO_CACHE_DIR/mirror/{loki,promtail}/3.6.7/)
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

usage() { printf 'usage: %s PRODUCT VERSION   (products: consul, minio, loki, promtail)\n' "${0##*/}" >&2; exit 2; }

# apt_install PACKAGE WHAT: install a Debian package with apt-get (WHAT, missing, is why);
# `apt-get update` is run only if the first install attempt fails.
apt_install() {
  local pkg=$1 what=$2 apt=(apt_get)
  command -v apt-get >/dev/null 2>&1 || die "$what is missing and apt-get is not available"
  [[ $(id -u) -eq 0 ]] || apt=(sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600)
  log "installing $pkg"
  if ! "${apt[@]}" install -y -qq "$pkg" >&2; then
    "${apt[@]}" update -qq >&2
    "${apt[@]}" install -y -qq "$pkg" >&2
  fi
}

# ensure_cmd COMMAND [DEBIAN_PACKAGE]: install the package if COMMAND is missing.
ensure_cmd() {
  local cmd=$1 pkg=${2:-$1}
  command -v "$cmd" >/dev/null 2>&1 && return 0
  apt_install "$pkg" "$cmd"
  command -v "$cmd" >/dev/null 2>&1 || die "could not install $pkg"
}

# ensure_file FILE DEBIAN_PACKAGE: install the package if FILE (a header, say) is missing.
ensure_file() {
  local file=$1 pkg=$2
  [[ -e $file ]] && return 0
  apt_install "$pkg" "$file"
  [[ -e $file ]] || die "could not install $pkg ($file is still missing)"
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
  # The commit time is the pseudo-version's own (Go's definition: yyyymmddhhmmss, UTC). The proxy's
  # .info Time is only logged: since 2026-12-05 it gives 20:34:58Z for this commit (20:18:48Z before).
  date=${pseudo#v0.0.0-}
  date=${date%%-*}
  epoch=$(date -u -d "${date:0:8} ${date:8:2}:${date:10:2}:${date:12:2} UTC" +%s)
  rfc3339=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
  [[ "RELEASE.$(date -u -d "@$epoch" +%Y-%m-%dT%H-%M-%SZ)" == "$version" ]] ||
    die "minio $version: commit $commit is from $rfc3339; the release tag must name that time"
  [[ "$(jq -r .Time "$(jq -r .Info <<<"$info")")" == "$rfc3339" ]] ||
    log "minio $version: the proxy dates $module@$pseudo $(jq -r .Time "$(jq -r .Info <<<"$info")"); the pseudo-version says $rfc3339"
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

# Loki and Promtail: one Go module, github.com/grafana/loki/v3 (Loki 3.x; Promtail lives in its
# clients/ tree up to Loki 3.6). Its go.mod has replace directives (forks, ./pkg/push), which
# apply only to the main module, so `go install module@version` cannot build it: the module's
# source is fetched by name with `go mod download` and built as the main module, from a copy in
# $WORK (the module cache stays pristine). Flags as in Loki's `make dist` (Makefile): loki static
# with CGO off and tag netgo; promtail with CGO and tag promtail_journal_enabled, so that it reads
# the systemd journal (libsystemd is opened at run time; its headers are needed to build).
LOKI_MODULE=github.com/grafana/loki/v3
LOKI_RELEASES=grafana/loki/releases/download

build_grafana() {
  local product=$1 version=$2 staging=$3 info dir commit date epoch pkg tags cgo ldflags reported
  local vprefix=$LOKI_MODULE/pkg/util/build name="$1-$TARGET_OS-$TARGET_ARCH"
  case $product in
    loki) pkg=./cmd/loki tags=netgo cgo=0 ;;
    promtail) pkg=./clients/cmd/promtail tags=netgo,promtail_journal_enabled cgo=1 ;;
    *) die "build_grafana: unknown product $product" ;;
  esac
  info=$(go_module_json "$LOKI_MODULE@v$version")
  dir=$(jq -r .Dir <<<"$info")
  [[ -f $dir/$pkg/main.go ]] ||
    die "$LOKI_MODULE@v$version has no $pkg ($product); Promtail left the Loki tree after 3.6: pick a 3.6.x or older release"
  commit=$(jq -r '.Origin.Hash // empty' <<<"$info")
  [[ -n $commit ]] || log "warning: the proxy gave no commit for $LOKI_MODULE@v$version; Revision stays empty"
  date=$(jq -r .Time "$(jq -r .Info <<<"$info")")
  epoch=$(date -u -d "$date" +%s)
  date=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
  # Licences (LICENSING.md): AGPL-3.0 for Loki, Apache-2.0 for clients/ (Promtail).
  log "$product $version: $LOKI_MODULE@v$version (commit ${commit:-?}, $date)"
  if ((cgo)); then
    ensure_cmd gcc
    ensure_file /usr/include/systemd/sd-journal.h libsystemd-dev
  fi

  mkdir -p "$WORK/src" "$WORK/bin"
  cp -R "$dir/." "$WORK/src/"
  chmod -R u+w "$WORK/src"
  cd "$WORK/src" || die "cannot cd to $WORK/src"
  local_submodules
  log "building $product $version (CGO_ENABLED=$cgo, tags $tags; slow when cold)"
  # Version variables as Loki's Makefile sets them (GO_LDFLAGS), for a build of the release tag.
  ldflags="-s -w -X $vprefix.Branch=HEAD -X $vprefix.Version=$version -X $vprefix.Revision=${commit:0:7}"
  ldflags+=" -X $vprefix.BuildUser=hello-testbed -X $vprefix.BuildDate=$date"
  # -mod=readonly: the build list and hashes are exactly the vendor's go.mod and go.sum.
  CGO_ENABLED=$cgo "$GO" build -mod=readonly -trimpath -tags "$tags" -ldflags "$ldflags" -o "$WORK/bin/$name" "$pkg"
  reported=$("$WORK/bin/$name" -version)
  grep -q "^$product, version $version " <<<"$reported" || die "built binary does not report $product version $version: $reported"
  if [[ $product == promtail ]]; then
    # The journal reader is compiled in: the dlopen'ed libsystemd symbols are there, the stub's warning is not.
    grep -qa sd_journal_open "$WORK/bin/$name" || die "promtail was built without the journal reader (sd_journal_open missing)"
    if grep -qa 'support for reading the systemd journal is not compiled' "$WORK/bin/$name"; then
      die "promtail was built with the journal stub (build tag promtail_journal_enabled or CGO missing)"
    fi
  fi
  package_grafana "$name" "$WORK/bin/$name" "$staging" "$epoch"
}

# local_submodules: in the main module in the current directory, fill each directory that a
# replace directive names (./pkg/push) with the module it stands for. Nested modules are not part
# of their parent's module zip; each comes from the proxy, at the version the main module requires
# (checked against the checksum database like any other download).
local_submodules() {
  local path target req json
  while IFS=$'\t' read -r path target; do
    [[ -n $path ]] || continue
    [[ $target == ./* && $target != *..* ]] || die "replace $path => $target: only ./ directories are handled"
    [[ ! -e $target/go.mod ]] || continue
    req=$("$GO" mod edit -json | jq -r --arg p "$path" '.Require[]? | select(.Path == $p) | .Version')
    [[ -n $req ]] || die "go.mod replaces $path with $target but does not require it"
    json=$(go_module_json "$path@$req")
    mkdir -p "$target"
    cp -R "$(jq -r .Dir <<<"$json")/." "$target/"
    chmod -R u+w "$target"
    log "nested module $path: $req from the proxy in $target"
  done < <("$GO" mod edit -json | jq -r '.Replace[]? | select(.New.Version == null) | [.Old.Path, .New.Path] | @tsv')
}

# package_grafana NAME BINARY STAGING EPOCH: NAME.zip holding the single file NAME, as Loki's
# `make dist` does (zip -j); timestamps pinned to EPOCH and extra fields dropped (-X), so the
# same binary always gives the same zip. SHA256SUMS lists it.
package_grafana() {
  local name=$1 binary=$2 staging=$3 epoch=$4 zdir="$WORK/zip"
  mkdir -p "$zdir"
  install -m 0755 "$binary" "$zdir/$name"
  touch -d "@$epoch" "$zdir/$name"
  (cd "$zdir" && TZ=UTC zip -q -X "$staging/$name.zip" "$name")
  chmod 0644 "$staging/$name.zip"
  (cd "$staging" && sha256sum "$name.zip" >SHA256SUMS)
  chmod 0644 "$staging/SHA256SUMS"
}

# publish_grafana PRODUCT VERSIONDIR VERSION: hard links in the GitHub release directory
# mirror/grafana/loki/releases/download/v<VERSION>/, which Loki and Promtail share, and its
# SHA256SUMS rewritten for the zips it then holds. Links and SHA256SUMS are replaced by rename,
# under a lock of their own, so that a concurrent loki and promtail run never serve a torn file.
publish_grafana() {
  local product=$1 dir=$2 version=$3
  local rel="$MIRROR_DIR/$LOKI_RELEASES/v$version" zip="$product-$TARGET_OS-$TARGET_ARCH.zip"
  mkdir -p "$rel"
  (
    flock 8
    if [[ ! "$rel/$zip" -ef "$dir/$zip" ]]; then
      ln -f "$dir/$zip" "$rel/.$zip.tmp"
      mv -f "$rel/.$zip.tmp" "$rel/$zip"
    fi
    (cd "$rel" && sha256sum -- *.zip >.SHA256SUMS.tmp)
    chmod 0644 "$rel/.SHA256SUMS.tmp"
    mv -f "$rel/.SHA256SUMS.tmp" "$rel/SHA256SUMS"
  ) 8>"$HELLO_CACHE_DIR/locks/grafana-loki-v$version.publish.lock"
  verify_dir "$rel" SHA256SUMS || die "$rel fails its SHA256SUMS"
  log "$product $version: published as ${rel#"$MIRROR_DIR"/}/$zip"
}

# Per-product dispatch.  A new product needs a build_<product> function and a case in the
# functions below.

# sums_name PRODUCT VERSION: the checksum file that marks a complete version directory.
sums_name() {
  case $1 in
    consul) echo "${1}_${2}_SHA256SUMS" ;;
    minio) echo "minio.${2}.sha256sum" ;;
    loki | promtail) echo SHA256SUMS ;;
    *) die "unknown product: $1 (known: consul, minio, loki, promtail)" ;;
  esac
}

# build_artifacts PRODUCT VERSION STAGING: build the release files into STAGING.
# Not to be called in a command substitution: errexit would not apply inside it.
build_artifacts() {
  case $1 in
    consul) build_consul "$2" "$3" ;;
    minio) build_minio "$2" "$3" ;;
    loki | promtail) build_grafana "$1" "$2" "$3" ;;
    *) die "unknown product: $1" ;;
  esac
}

# publish PRODUCT VERSIONDIR VERSION: links for vendors whose layout is not one directory per version.
publish() {
  case $1 in
    minio) publish_minio "$2" "$3" ;;
    loki | promtail) publish_grafana "$1" "$2" "$3" ;;
    *) ;;
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
    publish "$product" "$dest" "$version"
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
  publish "$product" "$dest" "$version"
  log "$product $version: built"
  printf '%s\n' "$dest"
}

main "$@"
