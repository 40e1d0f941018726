#!/usr/bin/env bash
# The hello-service tests against a real PostgreSQL 15: starts the throw-away local server
# (testbed/local-postgres.sh, 127.0.0.1:55432), exports its PG* environment (superuser) and runs
# pytest on app/tests with the repository's virtualenv. The tests create (and drop again) the
# database hello_app_test (HELLO_TEST_DB_NAME) with the roles hello and app_user.
# Usage: app/run-tests.sh [PYTEST_ARGS...]
set -euo pipefail
app_dir="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$app_dir")"
python="${PYTHON:-$root/.venv/bin/python}"
[ -x "$python" ] || { echo "ERROR: $python is missing: run make venv (or set PYTHON)" >&2; exit 1; }
"$root/testbed/local-postgres.sh" start
eval "$("$root/testbed/local-postgres.sh" env)"
cd "$app_dir"
exec "$python" -m pytest tests "$@"
