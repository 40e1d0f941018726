# -*- coding: utf-8 -*-
# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation fragment: the connection options of the hello.platform Patroni modules."""

from __future__ import annotations


class ModuleDocFragment:
    """REST API options, shared by every module that uses module_utils/patroni.py."""

    DOCUMENTATION = r"""
options:
  api_url:
    description:
      - REST API URLs of one or more members, for example V(https://10.0.1.11:8008).
      - The module asks them in order and uses the first that answers, so list every member to
        survive the loss of any one of them. Members it must act on are found through C(/cluster).
    type: list
    elements: str
    required: true
  ca_path:
    description: CA certificate(s) that signed the members' REST API certificates.
    type: path
  validate_certs:
    description: Verify the members' TLS certificates. Turn off only in throw-away environments.
    type: bool
    default: true
  client_cert:
    description: Client certificate, when the REST API requires one (C(restapi.verify_client)).
    type: path
  client_key:
    description: Key of O(client_cert).
    type: path
  username:
    description:
      - User for the REST API's unsafe endpoints (C(restapi.authentication)).
      - Taken from E(PATRONI_RESTAPI_USERNAME) on the managed node when not set.
    type: str
  password:
    description:
      - Its password. Never logged.
      - Taken from E(PATRONI_RESTAPI_PASSWORD) on the managed node when not set.
    type: str
  timeout:
    description: Seconds to wait for each request.
    type: int
    default: 10
notes:
  - Errors name the member and the request that failed and say what to check.
  - The modules need nothing but Python's standard library on the managed node (or the controller).
"""
