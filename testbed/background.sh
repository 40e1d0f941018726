#!/usr/bin/env bash
# Run one `make test` stage in the background while other stages run, and wait for it later.
# The machine has two cores and most early stages (lint, unit, sanity, build, app) use one: the
# test bed's network- and compile-heavy preparation (debootstrap, Go builds) fills the other.
#
#   testbed/background.sh start NAME COMMAND...   start COMMAND (normally testbed/stage.sh NAME ...);
#                                                 its output goes to $HELLO_CACHE_DIR/logs/NAME.bg.log
#   testbed/background.sh wait NAME               wait until it ends; print its output; exit with its status
# shellcheck source=testbed/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
action="${1:-}"; name="${2:-}"
[[ -n "$action" && -n "$name" ]] || die "usage: $0 start NAME COMMAND... | wait NAME"
shift 2
dir="$HELLO_CACHE_DIR/background"
mkdir -p "$dir" "$HELLO_CACHE_DIR/logs"
out="$HELLO_CACHE_DIR/logs/$name.bg.log"
case "$action" in
  start)
    (($#)) || die "start $name: no command given"
    rm -f "$out.rc.tmp"
    # shellcheck disable=SC2016  # $0 and $@ belong to the inner shell
    # setsid: the job survives the make recipe line that started it; its exit status lands in a file.
    setsid bash -c '"$@" > "$0" 2>&1; echo $? > "$0.rc.tmp"' "$out" "$@" < /dev/null &
    echo "$!" > "$dir/$name.pid"
    log "started $name in the background (pid $!, output: $out)"
    ;;
  wait)
    [[ -f "$dir/$name.pid" ]] || die "no background job $name was started"
    pid="$(cat "$dir/$name.pid")"
    while [[ ! -f "$out.rc.tmp" ]]; do
      kill -0 "$pid" 2>/dev/null || { sleep 1; [[ -f "$out.rc.tmp" ]] || die "background job $name (pid $pid) vanished"; }
      sleep 2
    done
    rc="$(cat "$out.rc.tmp")"
    rm -f "$out.rc.tmp" "$dir/$name.pid"
    cat "$out"
    log "background job $name ended with exit status $rc"
    exit "$rc"
    ;;
  *) die "unknown action $action (start or wait)" ;;
esac
