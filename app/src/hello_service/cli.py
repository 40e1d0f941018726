# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Console script hello-service: gunicorn with hello_service.gunicorn_conf; --check-config only
validates the HELLO_* environment (exit 0, or 2 with the reason)."""

import json
import sys


def main(argv=None):
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--check-config"]:
        from .config import ConfigError, load_settings  # pylint: disable=import-outside-toplevel

        try:
            settings = load_settings()
        except ConfigError as exc:
            sys.stderr.write(json.dumps({"level": "CRITICAL", "message": f"invalid configuration: {exc}"}) + "\n")
            return 2
        sys.stdout.write(json.dumps({"level": "INFO", "message": "configuration is valid", "settings": settings.describe()}) + "\n")
        return 0
    if args[:1] in (["-h"], ["--help"]):
        sys.stdout.write("usage: hello-service [--check-config | GUNICORN_OPTIONS...]\n"
                         "Runs gunicorn -c python:hello_service.gunicorn_conf hello_service.wsgi:app; see app/README.md.\n")
        return 0
    from gunicorn.app.wsgiapp import WSGIApplication  # pylint: disable=import-outside-toplevel

    sys.argv = ["hello-service", "-c", "python:hello_service.gunicorn_conf", *args, "hello_service.wsgi:app"]
    WSGIApplication("%(prog)s [OPTIONS]").run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
