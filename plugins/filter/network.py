# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters: IP addresses and networks (CIDR), with Python's ipaddress (no netaddr needed)."""

from __future__ import annotations

import ipaddress

from ansible.errors import AnsibleFilterError


def _network(value):
    return ipaddress.ip_network(str(value).strip(), strict=False)


def invalid_networks(values):
    """The items of a list that are neither an IP address nor a network in CIDR notation."""
    if not isinstance(values, (list, tuple)):
        raise AnsibleFilterError("invalid_networks: expects a list of addresses or networks, got %r" % (values,))
    bad = []
    for value in values:
        try:
            _network(value)
        except ValueError:
            bad.append(value)
    return bad


def address_in(address, networks):
    """True when the address lies in one of the networks (addresses count as /32 or /128)."""
    try:
        ip = ipaddress.ip_address(str(address).strip())
    except ValueError as exc:
        raise AnsibleFilterError("address_in: %r is not an IP address" % (address,)) from exc
    bad = invalid_networks(networks)
    if bad:
        raise AnsibleFilterError("address_in: %s not IP addresses or networks (CIDR)" % ", ".join(map(repr, bad)))
    return any(ip.version == net.version and ip in net for net in map(_network, networks))


def collapse_networks(values):
    """Addresses and networks merged into the fewest networks (IPv4 first, then IPv6), as CIDR strings.

    nftables refuses overlapping elements in one set; this also makes the rules stable (sorted).
    """
    bad = invalid_networks(values)
    if bad:
        raise AnsibleFilterError("collapse_networks: %s not IP addresses or networks (CIDR)" % ", ".join(map(repr, bad)))
    nets = [_network(value) for value in values]
    result = []
    for version in (4, 6):
        result.extend(str(net) for net in ipaddress.collapse_addresses(n for n in nets if n.version == version))
    return result


class FilterModule:
    """Network filters."""

    def filters(self):
        return {"invalid_networks": invalid_networks, "address_in": address_in, "collapse_networks": collapse_networks}
