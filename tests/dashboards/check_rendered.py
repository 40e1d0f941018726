# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check the files tests/dashboards/render_role.sh had the grafana role write under SCRATCH:
grafana.ini parses and carries the settings, provisioning YAML parses and names the datasources
and the dashboard directory, the dashboards are the role's files, modes keep secrets private,
and the admin password in grafana.ini is the one kept vault-encrypted in the secrets directory.
Usage: check_rendered.py SCRATCH   (run with the venv's Python: needs PyYAML and ansible)
"""
import configparser
import json
import pathlib
import stat
import subprocess
import sys

import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
ROLE = REPO / "roles" / "grafana"
EXPECTED_DATASOURCES = {
    "prometheus": ("prometheus", "http://prometheus.example:9090"),
    "loki": ("loki", "http://loki.example:3100"),
    "alertmanager": ("alertmanager", "http://alertmanager.example:9093"),
}


def unquote(value):
    return value[3:-3] if value.startswith('"""') and value.endswith('"""') else value


def main(scratch):
    scratch = pathlib.Path(scratch)
    etc = scratch / "etc"
    errors = []

    def check(ok, message):
        if not ok:
            errors.append(message)

    ini_path = etc / "grafana.ini"
    text = ini_path.read_text()
    check(text.startswith("#"), "grafana.ini does not start with the ansible_managed comment")
    ini = configparser.ConfigParser(interpolation=None, strict=True)
    ini.read_string(text)
    check(ini.get("paths", "provisioning") == str(etc / "provisioning"), "paths.provisioning is not the provisioning dir")
    check(ini.get("server", "http_port") == "3000", "server.http_port is not 3000")
    check(ini.get("server", "root_url") == "%(protocol)s://%(domain)s:%(http_port)s/", "server.root_url default")
    check(ini.get("server", "enable_gzip") == "false", "grafana_ini did not override server.enable_gzip")
    check(ini.get("auth.anonymous", "enabled") == "true" and ini.get("auth.anonymous", "org_role") == "Viewer",
          "grafana_ini's auth.anonymous section was not merged in")
    check(ini.get("security", "admin_user") == "admin", "security.admin_user is not admin")
    check(ini.get("analytics", "reporting_enabled") == "false", "analytics.reporting_enabled is not false")
    check(ini.get("dashboards", "default_home_dashboard_path") == str(etc / "dashboards" / "hello-cluster-overview.json"),
          "the home dashboard path is not the cluster overview")
    password = unquote(ini.get("security", "admin_password"))
    secret_key = unquote(ini.get("security", "secret_key"))
    check(len(password) >= 12 and len(secret_key) >= 16, "admin password or secret key too short")
    check(stat.S_IMODE(ini_path.stat().st_mode) == 0o640, "grafana.ini is not mode 0640")

    for name in ("admin_password", "secret_key"):
        stored = scratch / "secrets" / "grafana" / name
        check(stored.read_text().startswith("$ANSIBLE_VAULT;"), "%s is not vault-encrypted on the controller" % name)
        clear = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-vault"), "view", str(stored)],
                               check=True, capture_output=True, text=True).stdout.strip()
        check(clear == (password if name == "admin_password" else secret_key),
              "grafana.ini's %s is not the one kept in the secrets directory" % name)

    ds_path = etc / "provisioning" / "datasources" / "hello-platform.yml"
    ds = yaml.safe_load(ds_path.read_text())
    check(ds.get("apiVersion") == 1, "datasources: apiVersion is not 1")
    got = {d["uid"]: (d["type"], d["url"]) for d in ds.get("datasources", [])}
    check(got == EXPECTED_DATASOURCES, "datasources: %r" % got)
    prom = [d for d in ds["datasources"] if d["uid"] == "prometheus"][0]
    check(prom.get("isDefault") is True and prom["jsonData"].get("timeInterval") == "10s",
          "Prometheus is not the default datasource with timeInterval 10s")
    check(sum(1 for d in ds["datasources"] if d.get("isDefault")) == 1, "not exactly one default datasource")

    dash_path = etc / "provisioning" / "dashboards" / "hello-platform.yml"
    dash = yaml.safe_load(dash_path.read_text())
    providers = dash.get("providers") or []
    check(len(providers) == 1 and providers[0]["type"] == "file" and providers[0]["options"]["path"] == str(etc / "dashboards"),
          "dashboard provider: %r" % providers)
    check(providers[0].get("folder") == "hello.platform" and providers[0].get("allowUiUpdates") is False,
          "dashboard provider folder or allowUiUpdates")

    shipped = sorted(p.name for p in (ROLE / "files" / "dashboards").glob("*.json"))
    installed = sorted(p.name for p in (etc / "dashboards").iterdir())
    check(shipped == installed, "dashboards installed %s, shipped %s" % (installed, shipped))
    for name in shipped:
        check((etc / "dashboards" / name).read_bytes() == (ROLE / "files" / "dashboards" / name).read_bytes(),
              "%s differs from the role's file" % name)
        json.loads((etc / "dashboards" / name).read_text())
    for sub in ("datasources", "dashboards", "plugins", "alerting"):
        check((etc / "provisioning" / sub).is_dir(), "provisioning/%s is missing" % sub)
    check(stat.S_IMODE((etc / "provisioning").stat().st_mode) == 0o755, "provisioning dir is not 0755")

    for e in errors:
        print("ERROR:", e)
    print("check_rendered: grafana.ini, %d datasources, 1 dashboard provider, %d dashboards checked; %d problems"
          % (len(got), len(installed), len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
