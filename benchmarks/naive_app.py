# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hello contract implemented the naive way: the baseline of the throughput comparison only.

Single-process Flask development server (threaded=False), a new psycopg2 connection for every
request, no pool, no leader discovery, no retries, minimal validation (still the correct answers
for valid input). Same HELLO_DB_* variables as the service: HELLO_DB_HOSTS (host:port, the first
one is used), HELLO_DB_NAME, HELLO_DB_USER, HELLO_DB_PASSWORD (or HELLO_DB_PASSWORD_FILE),
HELLO_DB_SSLMODE. Usage: python naive_app.py PORT [BIND_ADDRESS (default 0.0.0.0)]
"""

import datetime
import logging
import os
import re
import sys

import psycopg2
from flask import Flask, jsonify, request

MERGE = ("merge into hello.birthdays trgt using (values (%s, %s::date)) as src(username, birthday) "
         "on trgt.username = src.username when matched then update set birthday = src.birthday "
         "when not matched then insert (username, birthday) values (src.username, src.birthday)")
SELECT = "select birthday from hello.birthdays where username = %s"

app = Flask(__name__)


def connect():
    host, port = (os.environ.get("HELLO_DB_HOSTS", "127.0.0.1:5432").split(",")[0].strip().rsplit(":", 1) + ["5432"])[:2]
    password = os.environ.get("HELLO_DB_PASSWORD")
    if os.environ.get("HELLO_DB_PASSWORD_FILE"):
        with open(os.environ["HELLO_DB_PASSWORD_FILE"], encoding="utf-8") as handle:
            password = handle.read().strip()
    return psycopg2.connect(host=host, port=port, dbname=os.environ.get("HELLO_DB_NAME", "hello"),
                            user=os.environ.get("HELLO_DB_USER", "app_user"), password=password,
                            sslmode=os.environ.get("HELLO_DB_SSLMODE", "prefer"), connect_timeout=2)


def utc_today():
    return datetime.datetime.now(datetime.timezone.utc).date()


def birthday_in(born, year):
    """29 February falls on 28 February in a common year."""
    if (born.month, born.day) == (2, 29):
        return datetime.date(year, 3, 1) - datetime.timedelta(days=1)
    return born.replace(year=year)


def error(status, code, message):
    return jsonify(error=code, message=message), status


@app.route("/hello/<username>", methods=["PUT"])
def put(username):
    body = request.get_json(silent=True)
    try:
        born = datetime.date.fromisoformat(body["dateOfBirth"])
    except (TypeError, KeyError, ValueError):
        return error(400, "invalid_date", "dateOfBirth must be a YYYY-MM-DD date")
    if not re.fullmatch(r"[A-Za-z]{1,30}", username) or born >= utc_today():
        return error(400, "invalid_input", "invalid username or date")
    conn = connect()
    try:
        with conn, conn.cursor() as cur:
            cur.execute(MERGE, (username, born.isoformat()))
    finally:
        conn.close()
    return "", 204


@app.route("/hello/<username>", methods=["GET"])
def get(username):
    if not re.fullmatch(r"[A-Za-z]{1,30}", username):
        return error(400, "invalid_username", "username must be 1 to 30 letters")
    conn = connect()
    try:
        with conn.cursor() as cur:
            cur.execute(SELECT, (username,))
            row = cur.fetchone()
    finally:
        conn.close()
    if row is None:
        return error(404, "user_not_found", f"no date of birth is stored for {username}")
    today, born = utc_today(), row[0]
    nxt = birthday_in(born, today.year)
    days = (nxt if nxt >= today else birthday_in(born, today.year + 1)) - today
    days = days.days
    return jsonify(message=f"Hello, {username}! Happy birthday!" if days == 0 else f"Hello, {username}! Your birthday is in {days} day(s)")


if __name__ == "__main__":
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app.run(host=sys.argv[2] if len(sys.argv) > 2 else "0.0.0.0", port=int(sys.argv[1]), threaded=False)  # nosec B104 - benchmark baseline
