#!/usr/bin/env bash
# Renders the grafana role's files with a real ansible-playbook run against localhost (connection
# local, grafana_manage_package false: no package, no service) into a scratch directory, and checks:
#   1. check mode on the empty directory, with a group that does not exist yet, does not fail;
#   2. the real run writes grafana.ini, the provisioning files and every dashboard, and the files
#      parse and say what they should (tests/dashboards/check_rendered.py);
#   3. a second run changes nothing; a dashboard file the role does not ship is removed;
#   4. a bad variable stops the run in the preflight with its message.
# Usage: tests/dashboards/render_role.sh [SCRATCH_DIR]   (default: a new directory under /tmp, removed
# afterwards unless KEEP=1). Needs the venv (make venv) and .collections (make collection).
set -euo pipefail
cd "$(dirname "$0")/../.."
root="$PWD"
venv="$root/.venv"
[ -x "$venv/bin/ansible-playbook" ] || { echo "ERROR: $venv is missing: run make venv" >&2; exit 1; }
[ -e "$root/.collections/ansible_collections/hello/platform" ] || { echo "ERROR: .collections is missing: run make collection" >&2; exit 1; }
export PATH="$venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$root/.collections" ANSIBLE_NOCOLOR=1

keep="${KEEP:-}"
if [ "$#" -gt 0 ]; then scratch="$1"; keep=1; else scratch="$(mktemp -d /tmp/grafana-render.XXXXXX)"; fi
mkdir -p "$scratch"
trap '[ -n "$keep" ] || rm -rf "$scratch"' EXIT
umask 077
head -c 32 /dev/urandom | base64 > "$scratch/vault-password"
export ANSIBLE_VAULT_PASSWORD_FILE="$scratch/vault-password"
python="$venv/bin/python"

run() {  # run NAME EXTRA_ARGS... : the playbook against localhost, output kept in $scratch/NAME.log
  local name="$1"; shift
  ansible-playbook -i localhost, -c local -e "ansible_python_interpreter=$python" \
    -e "grafana_manage_package=false" \
    -e "grafana_config_dir=$scratch/etc" \
    -e "grafana_provisioning_dir=$scratch/etc/provisioning" \
    -e "grafana_dashboards_dir=$scratch/etc/dashboards" \
    -e "grafana_secrets_dir=$scratch/secrets" \
    -e "grafana_prometheus_url=http://prometheus.example:9090" \
    -e "grafana_loki_url=http://loki.example:3100" \
    -e "grafana_alertmanager_url=http://alertmanager.example:9093" \
    -e "grafana_prometheus_scrape_interval=10s" \
    -e '{"grafana_ini": {"auth.anonymous": {"enabled": true, "org_role": "Viewer"}, "server": {"enable_gzip": false}}}' \
    "$@" tests/dashboards/render_role.yml > "$scratch/$name.log" 2>&1
}
recap() { grep -E '^localhost +:' "$scratch/$1.log" | tail -1; }
changed() { recap "$1" | sed -n 's/.*changed=\([0-9]*\).*/\1/p'; }
fail() { echo "FAILED: $*" >&2; echo "--- $scratch/$2.log:" >&2; tail -40 "$scratch/$2.log" >&2; exit 1; }

# 1. Check mode on a fresh host: the group does not exist, nothing is written.
run check-fresh --check -e grafana_group=hello-grafana-render-test || fail "check mode on an empty directory" check-fresh
[ ! -e "$scratch/etc" ] || fail "check mode created $scratch/etc" check-fresh
echo "ok   check mode on a fresh host: $(recap check-fresh)"
run check-fresh-group --check -e grafana_group=root || fail "check mode on an empty directory (group exists)" check-fresh-group
[ ! -e "$scratch/etc" ] || fail "check mode created $scratch/etc" check-fresh-group
echo "ok   check mode on a fresh host whose group exists: $(recap check-fresh-group)"

# 2. The real run (group root: no group is created on this machine).
run first -e grafana_group=root || fail "first run" first
"$python" tests/dashboards/check_rendered.py "$scratch" || fail "the rendered files" first
echo "ok   first run: $(recap first)"

# 3. Idempotence, check mode on the configured host, and removal of a stray dashboard.
run second -e grafana_group=root || fail "second run" second
[ "$(changed second)" = 0 ] || fail "second run changed something" second
echo "ok   second run changes nothing: $(recap second)"
run check-configured --check -e grafana_group=root || fail "check mode on the configured directory" check-configured
[ "$(changed check-configured)" = 0 ] || fail "check mode on the configured directory reports changes" check-configured
echo "ok   check mode on the configured host reports no change: $(recap check-configured)"
echo '{}' > "$scratch/etc/dashboards/stray.json"
run stray -e grafana_group=root || fail "run with a stray dashboard" stray
[ ! -e "$scratch/etc/dashboards/stray.json" ] || fail "stray.json was not removed" stray
echo "ok   a dashboard the role does not ship is removed"

# 4. Preflight: a bad value stops the run before anything changes, with its message.
if run bad-version -e grafana_group=root -e grafana_version=latest; then fail "grafana_version=latest was accepted" bad-version; fi
grep -q "grafana_version must be an exact package version" "$scratch/bad-version.log" || fail "no preflight message" bad-version
echo "ok   preflight refuses grafana_version=latest"
if run bad-ini -e grafana_group=root -e '{"grafana_ini": {"security": {"admin_password": "x"}}}'; then
  fail "grafana_ini.security.admin_password was accepted" bad-ini
fi
echo "ok   preflight refuses the admin password in grafana_ini"
echo "render_role: all checks passed (scratch: $scratch${keep:+, kept})"
