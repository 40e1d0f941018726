#!/usr/bin/env bash
# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Runs inside the logging test's container (tests/logging/run.sh copies it there): writes log lines
# the way the platform's programs do, each marked with the run id $1, for the test's LogQL queries.
set -euo pipefail
id=$1
now() { date -u '+%Y-%m-%d %H:%M:%S.%3N UTC'; }
# Plain journal line.
logger -t hello-test "journal-line-$id"
# The hello app: JSON lines on the output of hello-app.service.
systemd-run --quiet --unit="hello-app" --collect -p Type=oneshot --wait /bin/sh -c \
  "echo '{\"ts\": \"x\", \"level\": \"ERROR\", \"logger\": \"hello_service.app\", \"message\": \"app-line-$id\", \"request_id\": \"req-$id\"}'"
# Patroni: its own lines and PostgreSQL's (started by Patroni, same output).
systemd-run --quiet --unit="patroni" --collect -p Type=oneshot --wait /bin/sh -c \
  "echo 'INFO: no action. I am ($(hostname)), the leader with the lock patroni-line-$id'; echo '$(now) [4242] LOG:  checkpoint starting: time pg-journal-line-$id'; echo '$(now) [4243] app_user@hello FATAL:  password authentication failed pg-fatal-line-$id'"
# HAProxy: syslog datagrams to /dev/log (local0.info) from a process of haproxy.service that is still
# alive when journald looks up its unit, with the haproxy role's log-format.
cat >/usr/local/sbin/fake-haproxy.py <<'PY'
import socket, sys, time
line = ('172.30.0.9:51234 [04/Dec/2026:12:00:00.000] https~ hello_app/dc1-app-1 0/0/1/2/3 200 120 ---- 1/1/0/0/0 0/0 '
        'AC1E0009:C802_AC1E0002:01BB_6750B000_0001:1A2B "GET /hello/alice?haproxy-line-%s HTTP/1.1"' % sys.argv[1])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(('<134>haproxy[%d]: %s' % (1234, line)).encode(), '/dev/log')
time.sleep(2)
PY
systemd-run --quiet --unit="haproxy" --collect -p Type=oneshot --wait /usr/bin/python3 /usr/local/sbin/fake-haproxy.py "$id"
# PostgreSQL's own log file, as Debian writes it (group adm).
install -d -m 1775 -o root -g adm /var/log/postgresql
f=/var/log/postgresql/postgresql-15-main.log
[ -e "$f" ] || install -m 0640 -o root -g adm /dev/null "$f"
echo "$(now) [4244] LOG:  file-line-$id" >>"$f"
