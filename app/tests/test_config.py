# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Configuration from the environment: defaults, password sources, fail-fast validation."""

import os
import subprocess
import sys

import pytest

from hello_service.config import ConfigError, load_settings, parse_hosts

from conftest import APP_DIR

BASE = {"HELLO_DB_HOSTS": "db1:5432,db2", "HELLO_DB_PASSWORD": "s3cret-pass"}


def env(**kw):
    out = dict(BASE)
    out.update(kw)
    return {k: v for k, v in out.items() if v is not None}


def test_defaults():
    s = load_settings(env())
    assert s.db_name == "hello" and s.db_user == "app_user"
    assert s.db_hosts == (("db1", 5432), ("db2", 5432))
    assert s.static_mode
    assert s.db_sslmode == "prefer" and s.db_sslrootcert is None
    assert s.db_connect_timeout == 2
    assert s.poll_interval == 1.0 and s.retry_timeout == 10.0
    assert s.read_from_replicas is False
    assert s.timezone == "UTC" and s.log_level == "INFO"
    assert s.db_password == "s3cret-pass"


def test_password_never_in_repr_or_describe():
    s = load_settings(env())
    assert "s3cret-pass" not in repr(s)
    assert "s3cret-pass" not in str(s.describe())


def test_all_variables():
    s = load_settings(env(HELLO_DB_NAME="hello_x", HELLO_DB_USER="u", HELLO_DB_SSLMODE="verify-full", HELLO_DB_CONNECT_TIMEOUT="5",
                          HELLO_POOL_MAX="8", HELLO_PATRONI_URLS="https://10.0.0.5:8008/, http://[::1]:8008", HELLO_POLL_INTERVAL="0.5",
                          HELLO_RETRY_TIMEOUT="3", HELLO_READ_FROM_REPLICAS="true", HELLO_MAX_REPLICA_LAG_BYTES="1048576",
                          HELLO_TIMEZONE="Europe/Berlin", HELLO_LOG_LEVEL="debug"))
    assert s.patroni_urls == ("https://10.0.0.5:8008", "http://[::1]:8008")
    assert not s.static_mode
    assert (s.db_name, s.db_user, s.db_sslmode, s.db_connect_timeout, s.pool_max) == ("hello_x", "u", "verify-full", 5, 8)
    assert (s.poll_interval, s.retry_timeout, s.read_from_replicas, s.max_replica_lag_bytes) == (0.5, 3.0, True, 1048576)
    assert (s.timezone, s.log_level) == ("Europe/Berlin", "DEBUG")


def test_patroni_mode_needs_no_hosts():
    s = load_settings({"HELLO_PATRONI_URLS": "http://127.0.0.1:8008", "HELLO_DB_PASSWORD": "x"})
    assert s.db_hosts == () and not s.static_mode


def test_hosts_parsing():
    assert parse_hosts("a, b:6432 ,[::1]:5433,[fe80::1]") == (("a", 5432), ("b", 6432), ("::1", 5433), ("fe80::1", 5432))


def test_password_file_wins(tmp_path):
    path = tmp_path / "pw"
    path.write_text("from-file\n")
    assert load_settings(env(HELLO_DB_PASSWORD_FILE=str(path))).db_password == "from-file"


def test_systemd_credential(tmp_path):
    (tmp_path / "db-password").write_text("from-credential")
    assert load_settings(env(CREDENTIALS_DIRECTORY=str(tmp_path))).db_password == "from-credential"
    # no credential file there: fall back to HELLO_DB_PASSWORD
    assert load_settings(env(CREDENTIALS_DIRECTORY=str(tmp_path / "none"))).db_password == "s3cret-pass"


@pytest.mark.parametrize("overrides, fragment", [
    ({"HELLO_DB_HOSTS": None}, "HELLO_PATRONI_URLS"),
    ({"HELLO_DB_PASSWORD": None}, "no database password"),
    ({"HELLO_DB_PASSWORD_FILE": "/nonexistent/pw"}, "HELLO_DB_PASSWORD_FILE"),
    ({"HELLO_DB_HOSTS": "db1:notaport"}, "HELLO_DB_HOSTS"),
    ({"HELLO_DB_HOSTS": "db1:70000"}, "HELLO_DB_HOSTS"),
    ({"HELLO_DB_HOSTS": "::1"}, "IPv6"),
    ({"HELLO_DB_HOSTS": "bad host"}, "HELLO_DB_HOSTS"),
    ({"HELLO_DB_SSLMODE": "maybe"}, "HELLO_DB_SSLMODE"),
    ({"HELLO_DB_SSLROOTCERT": "/nonexistent/ca.pem"}, "HELLO_DB_SSLROOTCERT"),
    ({"HELLO_DB_SSLCERT": "/nonexistent/client.crt"}, "HELLO_DB_SSLCERT and HELLO_DB_SSLKEY"),
    ({"HELLO_DB_SSLKEY": "/nonexistent/client.key"}, "HELLO_DB_SSLCERT and HELLO_DB_SSLKEY"),
    ({"HELLO_DB_SSLCERT": "/nonexistent/client.crt", "HELLO_DB_SSLKEY": "/nonexistent/client.key"}, "HELLO_DB_SSLCERT: /nonexistent"),
    ({"HELLO_DB_CONNECT_TIMEOUT": "two"}, "HELLO_DB_CONNECT_TIMEOUT"),
    ({"HELLO_DB_CONNECT_TIMEOUT": "0"}, "HELLO_DB_CONNECT_TIMEOUT"),
    ({"HELLO_POOL_MAX": "0"}, "HELLO_POOL_MAX"),
    ({"HELLO_PATRONI_URLS": "ftp://x"}, "HELLO_PATRONI_URLS"),
    ({"HELLO_PATRONI_URLS": "10.0.0.5:8008"}, "HELLO_PATRONI_URLS"),
    ({"HELLO_PATRONI_URLS": " , "}, "HELLO_PATRONI_URLS"),
    ({"HELLO_PATRONI_CA_FILE": "/nonexistent/ca.pem"}, "HELLO_PATRONI_CA_FILE"),
    ({"HELLO_POLL_INTERVAL": "0"}, "HELLO_POLL_INTERVAL"),
    ({"HELLO_POLL_INTERVAL": "nan"}, "HELLO_POLL_INTERVAL"),
    ({"HELLO_RETRY_TIMEOUT": "-1"}, "HELLO_RETRY_TIMEOUT"),
    ({"HELLO_READ_FROM_REPLICAS": "perhaps"}, "HELLO_READ_FROM_REPLICAS"),
    ({"HELLO_MAX_REPLICA_LAG_BYTES": "-5"}, "HELLO_MAX_REPLICA_LAG_BYTES"),
    ({"HELLO_TIMEZONE": "Mars/Olympus"}, "HELLO_TIMEZONE"),
    ({"HELLO_TIMEZONE": "../../etc/passwd"}, "HELLO_TIMEZONE"),
    ({"HELLO_LOG_LEVEL": "LOUD"}, "HELLO_LOG_LEVEL"),
])
def test_invalid_config_fails_with_a_clear_message(overrides, fragment):
    with pytest.raises(ConfigError) as err:
        load_settings(env(**overrides))
    assert fragment in str(err.value)
    assert "s3cret-pass" not in str(err.value)


def test_empty_password_file_is_an_error(tmp_path):
    path = tmp_path / "pw"
    path.write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        load_settings(env(HELLO_DB_PASSWORD_FILE=str(path)))


def _run(args, extra_env):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HELLO_")}
    environ.update(extra_env)
    environ["PYTHONPATH"] = str(APP_DIR / "src")
    return subprocess.run([sys.executable, *args], env=environ, capture_output=True, text=True, timeout=60, check=False)


def test_check_config_command():
    ok = _run(["-m", "hello_service", "--check-config"], env())
    assert ok.returncode == 0, ok.stderr
    assert "configuration is valid" in ok.stdout and "s3cret-pass" not in ok.stdout
    bad = _run(["-m", "hello_service", "--check-config"], env(HELLO_TIMEZONE="Nowhere/Land"))
    assert bad.returncode == 2
    assert "HELLO_TIMEZONE" in bad.stderr


def test_gunicorn_fails_fast_on_invalid_config():
    result = _run(["-m", "gunicorn", "-c", "python:hello_service.gunicorn_conf", "hello_service.wsgi:app"],
                  env(HELLO_DB_SSLMODE="sometimes", HELLO_BIND="127.0.0.1:0"))
    assert result.returncode == 2, result.stderr
    assert "invalid configuration" in result.stderr and "HELLO_DB_SSLMODE" in result.stderr


def test_client_certificate_reaches_the_connection(tmp_path):
    from hello_service.db import Database
    cert, key = tmp_path / "client.crt", tmp_path / "client.key"
    cert.write_text("cert")
    key.write_text("key")
    settings = load_settings(env(HELLO_DB_SSLCERT=str(cert), HELLO_DB_SSLKEY=str(key), HELLO_DB_SSLMODE="verify-full"))
    assert (settings.db_sslcert, settings.db_sslkey) == (str(cert), str(key))
    info = Database(settings).conninfo(settings.db_hosts, read_write=True)
    assert (info["sslcert"], info["sslkey"], info["sslmode"]) == (str(cert), str(key), "verify-full")
    plain = load_settings(env())
    assert "sslcert" not in Database(plain).conninfo(plain.db_hosts, read_write=True)
