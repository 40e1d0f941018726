# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""WSGI entry point: gunicorn -c python:hello_service.gunicorn_conf hello_service.wsgi:app

The application is created in each gunicorn worker (no preload), so every worker has its own
connection pool and leader discovery thread.
"""

from .app import create_app, get_service

app = create_app()
service = get_service(app)
