# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""hello-service: the birthday greeting HTTP service (Flask on gunicorn, PostgreSQL behind Patroni)."""

__version__ = "0.1.0"
