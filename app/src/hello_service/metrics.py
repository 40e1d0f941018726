# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus metrics. With several gunicorn workers PROMETHEUS_MULTIPROC_DIR must be set before
this module is imported (hello_service.gunicorn_conf does that); /metrics then aggregates the
files of all workers, and the master's child_exit hook calls mark_process_dead().
"""

import os

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

HTTP_METHODS = frozenset(("GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"))

HTTP_REQUESTS = Counter("hello_http_requests", "HTTP requests handled, by method, route template and status code.",
                        ["method", "route", "status"])
HTTP_DURATION = Histogram("hello_http_request_duration_seconds", "Time to handle an HTTP request, by method and route template.",
                          ["method", "route"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
LEADER_CHANGES = Counter("hello_db_leader_changes", "Times the Patroni leader changed and the connection pool was repointed.")
LEADER_KNOWN = Gauge("hello_db_leader_known", "1 when a writable leader is known (always 1 in static mode), else 0; "
                     "the minimum over the live workers.", multiprocess_mode="livemin")
DB_RETRIES = Counter("hello_db_retries", "Database statements retried after a connection, read-only or shutdown error.")


def method_label(method: str) -> str:
    """Bounded label values: unknown methods become OTHER."""
    return method if method in HTTP_METHODS else "OTHER"


def render():
    """(body, content type) of the metrics of this process, or of all workers in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess  # pylint: disable=import-outside-toplevel

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry), CONTENT_TYPE_LATEST
