# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Settings from HELLO_* environment variables, validated once at startup (fail fast).

Every variable is documented in app/README.md. load_settings() raises ConfigError with a message
naming the variable and the problem; it never includes the database password in a message.
"""

import dataclasses
import math
import os
import re
import zoneinfo
from typing import Mapping, Optional, Tuple
from urllib.parse import urlsplit

SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
PASSWORD_CREDENTIAL = "db-password"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_HOST_RE = re.compile(r"[A-Za-z0-9._-]+")


class ConfigError(ValueError):
    """The configuration in the environment is invalid; the message says which variable and why."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """The validated configuration of one service process."""

    db_password: str = dataclasses.field(repr=False)
    db_name: str = "hello"
    db_user: str = "app_user"
    db_hosts: Tuple[Tuple[str, int], ...] = ()
    db_sslmode: str = "prefer"
    db_sslrootcert: Optional[str] = None
    db_sslcert: Optional[str] = None
    db_sslkey: Optional[str] = None
    db_connect_timeout: int = 2
    db_statement_timeout_ms: int = 5000
    pool_max: int = 4
    patroni_urls: Tuple[str, ...] = ()
    patroni_ca_file: Optional[str] = None
    patroni_timeout: float = 1.0
    poll_interval: float = 1.0
    retry_timeout: float = 10.0
    read_from_replicas: bool = False
    max_replica_lag_bytes: int = 0
    timezone: str = "UTC"
    log_level: str = "INFO"
    application_name: str = "hello-service"

    @property
    def static_mode(self) -> bool:
        """True when no Patroni URL is configured: HELLO_DB_HOSTS is used as is."""
        return not self.patroni_urls

    def describe(self) -> dict:
        """The settings as a dict that is safe to log (no password)."""
        out = dataclasses.asdict(self)
        out.pop("db_password", None)
        out["db_hosts"] = [f"{h}:{p}" for h, p in self.db_hosts]
        out["patroni_urls"] = list(self.patroni_urls)
        return out


def _get(env: Mapping[str, str], name: str) -> Optional[str]:
    value = env.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _int(env, name, default, minimum=None, maximum=None):
    raw = _get(env, name)
    if raw is None:
        return default
    try:
        value = int(raw, 10)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={value} is below the minimum {minimum}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name}={value} is above the maximum {maximum}")
    return value


def _float(env, name, default, minimum=None, maximum=None):
    raw = _get(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if not math.isfinite(value):
        raise ConfigError(f"{name}={raw!r} is not a finite number")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={value} is below the minimum {minimum}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name}={value} is above the maximum {maximum}")
    return value


def _bool(env, name, default):
    raw = _get(env, name)
    if raw is None:
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use true or false)")


def readable_file(name: str, path: str) -> str:
    if not os.path.isfile(path):
        raise ConfigError(f"{name}: {path} does not exist or is not a file")
    if not os.access(path, os.R_OK):
        raise ConfigError(f"{name}: {path} is not readable by this process")
    return path


def parse_hosts(raw: str, name: str = "HELLO_DB_HOSTS") -> Tuple[Tuple[str, int], ...]:
    """'host[:port],[v6addr]:port,...' -> ((host, port), ...); the port defaults to 5432."""
    hosts = []
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        if item.startswith("["):
            end = item.find("]")
            if end < 0:
                raise ConfigError(f"{name}: {item!r} has an unclosed [ for an IPv6 address")
            host, rest = item[1:end], item[end + 1:]
            if rest and not rest.startswith(":"):
                raise ConfigError(f"{name}: {item!r} is not [address]:port")
            port_text = rest[1:] if rest else ""
        elif item.count(":") == 1:
            host, port_text = item.split(":")
        elif ":" in item:
            raise ConfigError(f"{name}: {item!r}: write an IPv6 address as [address]:port")
        else:
            host, port_text = item, ""
        if not host or (not item.startswith("[") and not _HOST_RE.fullmatch(host)):
            raise ConfigError(f"{name}: {item!r} has no valid host name")
        try:
            port = int(port_text, 10) if port_text else 5432
        except ValueError:
            raise ConfigError(f"{name}: {item!r} has an invalid port") from None
        if not 1 <= port <= 65535:
            raise ConfigError(f"{name}: {item!r} has a port outside 1-65535")
        hosts.append((host, port))
    if not hosts:
        raise ConfigError(f"{name} is empty")
    return tuple(hosts)


def parse_patroni_urls(raw: str) -> Tuple[str, ...]:
    urls = []
    for item in raw.split(","):
        item = item.strip().rstrip("/")
        if not item:
            continue
        parts = urlsplit(item)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"HELLO_PATRONI_URLS: {item!r} is not an http(s) URL such as https://10.0.0.5:8008")
        if parts.query or parts.fragment:
            raise ConfigError(f"HELLO_PATRONI_URLS: {item!r} must not have a query or fragment")
        try:
            port = parts.port  # raises ValueError on an invalid port
        except ValueError:
            port = -1
        if port is not None and not 1 <= port <= 65535:
            raise ConfigError(f"HELLO_PATRONI_URLS: {item!r} has an invalid port")
        urls.append(item)
    if not urls:
        raise ConfigError("HELLO_PATRONI_URLS is set but names no URL")
    return tuple(urls)


def read_password(env: Mapping[str, str]) -> str:
    """HELLO_DB_PASSWORD_FILE, else $CREDENTIALS_DIRECTORY/db-password (systemd), else HELLO_DB_PASSWORD."""
    path = _get(env, "HELLO_DB_PASSWORD_FILE")
    source = "HELLO_DB_PASSWORD_FILE"
    if path is None:
        creds = _get(env, "CREDENTIALS_DIRECTORY")
        candidate = os.path.join(creds, PASSWORD_CREDENTIAL) if creds else None
        if candidate and os.path.isfile(candidate):
            path, source = candidate, f"systemd credential {PASSWORD_CREDENTIAL}"
    if path is not None:
        readable_file(source, path)
        try:
            with open(path, encoding="utf-8") as handle:
                password = handle.read().rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{source}: cannot read {path}: {exc.__class__.__name__}") from None
        if not password:
            raise ConfigError(f"{source}: {path} is empty")
        return password
    password = env.get("HELLO_DB_PASSWORD")
    if password:
        return password
    raise ConfigError("no database password: set HELLO_DB_PASSWORD_FILE, pass the systemd credential "
                      f"{PASSWORD_CREDENTIAL} (LoadCredential=), or set HELLO_DB_PASSWORD")


def load_settings(env: Optional[Mapping[str, str]] = None) -> Settings:
    """Validate the HELLO_* variables of env (default os.environ) and return the Settings."""
    env = os.environ if env is None else env
    db_name = _get(env, "HELLO_DB_NAME") or "hello"
    db_user = _get(env, "HELLO_DB_USER") or "app_user"
    for name, value in (("HELLO_DB_NAME", db_name), ("HELLO_DB_USER", db_user)):
        if len(value) > 63 or "\x00" in value:
            raise ConfigError(f"{name}={value!r} is not a valid PostgreSQL identifier (at most 63 bytes)")

    patroni_raw = _get(env, "HELLO_PATRONI_URLS")
    patroni_urls = parse_patroni_urls(patroni_raw) if patroni_raw else ()
    hosts_raw = _get(env, "HELLO_DB_HOSTS")
    db_hosts = parse_hosts(hosts_raw) if hosts_raw else ()
    if not patroni_urls and not db_hosts:
        raise ConfigError("set HELLO_PATRONI_URLS (leader discovery) or HELLO_DB_HOSTS (static mode)")

    sslmode = (_get(env, "HELLO_DB_SSLMODE") or "prefer").lower()
    if sslmode not in SSLMODES:
        raise ConfigError(f"HELLO_DB_SSLMODE={sslmode!r} is not one of {', '.join(SSLMODES)}")
    sslrootcert = _get(env, "HELLO_DB_SSLROOTCERT")
    if sslrootcert:
        readable_file("HELLO_DB_SSLROOTCERT", sslrootcert)
    # A client certificate (mutual TLS, pg_hba clientcert=verify-full): both files or neither.
    sslcert = _get(env, "HELLO_DB_SSLCERT")
    sslkey = _get(env, "HELLO_DB_SSLKEY")
    if bool(sslcert) != bool(sslkey):
        raise ConfigError("set both HELLO_DB_SSLCERT and HELLO_DB_SSLKEY (the client certificate and its key), or neither")
    if sslcert:
        readable_file("HELLO_DB_SSLCERT", sslcert)
        readable_file("HELLO_DB_SSLKEY", sslkey)
    ca_file = _get(env, "HELLO_PATRONI_CA_FILE")
    if ca_file:
        readable_file("HELLO_PATRONI_CA_FILE", ca_file)

    timezone = _get(env, "HELLO_TIMEZONE") or "UTC"
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"HELLO_TIMEZONE={timezone!r} is not a known IANA time zone (e.g. UTC, Europe/Berlin)") from None

    log_level = (_get(env, "HELLO_LOG_LEVEL") or "INFO").upper()
    if log_level not in LOG_LEVELS:
        raise ConfigError(f"HELLO_LOG_LEVEL={log_level!r} is not one of {', '.join(LOG_LEVELS)}")

    return Settings(
        db_password=read_password(env),
        db_name=db_name,
        db_user=db_user,
        db_hosts=db_hosts,
        db_sslmode=sslmode,
        db_sslrootcert=sslrootcert,
        db_sslcert=sslcert,
        db_sslkey=sslkey,
        db_connect_timeout=_int(env, "HELLO_DB_CONNECT_TIMEOUT", 2, minimum=1, maximum=60),
        db_statement_timeout_ms=_int(env, "HELLO_DB_STATEMENT_TIMEOUT_MS", 5000, minimum=0, maximum=600000),
        pool_max=_int(env, "HELLO_POOL_MAX", 4, minimum=1, maximum=200),
        patroni_urls=patroni_urls,
        patroni_ca_file=ca_file,
        patroni_timeout=_float(env, "HELLO_PATRONI_TIMEOUT", 1.0, minimum=0.05, maximum=30),
        poll_interval=_float(env, "HELLO_POLL_INTERVAL", 1.0, minimum=0.05, maximum=300),
        retry_timeout=_float(env, "HELLO_RETRY_TIMEOUT", 10.0, minimum=0, maximum=300),
        read_from_replicas=_bool(env, "HELLO_READ_FROM_REPLICAS", False),
        max_replica_lag_bytes=_int(env, "HELLO_MAX_REPLICA_LAG_BYTES", 0, minimum=0),
        timezone=timezone,
        log_level=log_level,
        application_name=_get(env, "HELLO_APPLICATION_NAME") or "hello-service",
    )
