# -*- coding: utf-8 -*-
# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation fragment: the connection options of the hello.platform Consul modules."""

from __future__ import annotations


class ModuleDocFragment:
    """Consul HTTP API options, shared by every module that uses module_utils/consul.py."""

    DOCUMENTATION = r"""
options:
  url:
    description:
      - The HTTP API of a Consul agent, for example V(https://127.0.0.1:8501) (the platform's agents
        serve HTTPS only, on port 8501).
      - Taken from E(CONSUL_HTTP_ADDR) where the module runs when not set; that variable must then be a
        URL with its scheme.
    type: str
    default: https://127.0.0.1:8501
  token:
    description:
      - Consul ACL token for the requests. Never logged.
      - Taken from E(CONSUL_HTTP_TOKEN) where the module runs when not set. Without any token, Consul
        uses its anonymous token, which the platform's default-deny ACLs let do almost nothing.
    type: str
  ca_path:
    description:
      - CA certificate(s) that signed the agent's HTTPS certificate.
      - Taken from E(CONSUL_CACERT) when not set; without either, the system's CAs are used.
    type: path
  timeout:
    description: Seconds to wait for the agent to connect and answer, for each request.
    type: int
    default: 10
  datacenter:
    description:
      - Consul datacenter to send the requests to (C(?dc=)); the agent's own datacenter when not set.
      - The agent forwards them to that datacenter's servers over the WAN federation.
    type: str
requirements:
  - py-consul (the maintained fork of python-consul; import name C(consul)) and requests, where the module runs.
notes:
  - Errors name the agent's URL and the request that failed and say what to check; a refused request
    says which ACL permission the token lacks.
"""
