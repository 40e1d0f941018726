# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Opt-in (HELLO_TEST_PACKAGING=1; needs the package index): the deployment path of the Ansible role.
pip wheel -r app/requirements.txt app/ -w WHEELHOUSE, then pip install --no-index --find-links
WHEELHOUSE hello-service in a fresh virtualenv; the wheel carries openapi.yaml and the console script works."""

import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from conftest import APP_DIR

pytestmark = pytest.mark.skipif(os.environ.get("HELLO_TEST_PACKAGING") != "1",
                                reason="opt-in: set HELLO_TEST_PACKAGING=1 (builds a wheelhouse from the package index)")


def run(*args, **kwargs):
    return subprocess.run(list(args), check=True, capture_output=True, text=True, timeout=600, **kwargs)


def test_wheelhouse_installs_offline_in_a_fresh_venv(tmp_path):
    source = tmp_path / "app"
    shutil.copytree(APP_DIR, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "tests"))
    wheelhouse = tmp_path / "wheelhouse"
    run(sys.executable, "-m", "pip", "wheel", "--disable-pip-version-check", "-q", "-r", str(source / "requirements.txt"),
        str(source), "-w", str(wheelhouse))
    wheel = next(wheelhouse.glob("hello_service-0.1.0-*.whl"))
    assert "hello_service/openapi.yaml" in zipfile.ZipFile(wheel).namelist()
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", str(venv))
    run(str(venv / "bin" / "pip"), "install", "--disable-pip-version-check", "-q", "--no-index", "--find-links", str(wheelhouse),
        "hello-service")
    environ = {"PATH": os.environ.get("PATH", ""), "HELLO_DB_HOSTS": "127.0.0.1:5432", "HELLO_DB_PASSWORD": "x"}
    out = run(str(venv / "bin" / "hello-service"), "--check-config", env=environ, cwd=str(tmp_path))
    assert "configuration is valid" in out.stdout
    code = ("import importlib.resources, gunicorn, flask, psycopg2, prometheus_client, requests; "
            "assert importlib.resources.files('hello_service').joinpath('openapi.yaml').read_text().startswith('---')")
    run(str(venv / "bin" / "python"), "-c", code, cwd=str(tmp_path))
    frozen = run(str(venv / "bin" / "pip"), "freeze", "--disable-pip-version-check").stdout.lower()
    for line in (source / "requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            assert line.lower().replace("_", "-") in frozen.replace("_", "-"), line
