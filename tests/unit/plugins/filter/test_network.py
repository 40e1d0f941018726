"""Unit tests for the network filters."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.hello.platform.plugins.filter.network import FilterModule, address_in, collapse_networks, invalid_networks


def test_invalid_networks_keeps_the_order_of_bad_items():
    values = ["10.0.0.0/8", "bogus", "192.0.2.7", "2001:db8::/32", "10.0.0.0/33", "", "172.16.5.1/12"]
    assert invalid_networks(values) == ["bogus", "10.0.0.0/33", ""]


def test_invalid_networks_of_an_empty_list():
    assert invalid_networks([]) == []


def test_invalid_networks_refuses_a_string():
    with pytest.raises(AnsibleFilterError, match="expects a list"):
        invalid_networks("10.0.0.0/8")


@pytest.mark.parametrize(
    ("address", "networks", "expected"),
    [
        ("172.18.0.1", ["172.18.0.0/16"], True),
        ("172.18.0.1", ["172.18.0.1"], True),
        ("172.18.0.1", ["172.18.0.2", "10.0.0.0/8"], False),
        ("172.18.0.1", [], False),
        ("203.0.113.9", ["0.0.0.0/0"], True),
        ("2001:db8::1", ["0.0.0.0/0"], False),
        ("2001:db8::1", ["2001:db8::/64"], True),
        (" 10.1.2.3 ", ["10.1.2.0/24"], True),
    ],
)
def test_address_in(address, networks, expected):
    assert address_in(address, networks) is expected


def test_address_in_refuses_a_bad_address():
    with pytest.raises(AnsibleFilterError, match="'host-1' is not an IP address"):
        address_in("host-1", ["10.0.0.0/8"])


def test_address_in_names_the_bad_networks():
    with pytest.raises(AnsibleFilterError, match="'10.0.0.0/40' not IP addresses"):
        address_in("10.0.0.1", ["10.0.0.0/8", "10.0.0.0/40"])


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {"invalid_networks", "address_in", "collapse_networks"}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], []),
        (["10.0.0.7"], ["10.0.0.7/32"]),
        (["10.0.0.0/25", "10.0.0.128/25", "10.0.0.7"], ["10.0.0.0/24"]),
        (["172.18.0.9", "0.0.0.0/0", "172.18.0.1/32"], ["0.0.0.0/0"]),
        (["2001:db8::1", "10.0.0.2", "10.0.0.1"], ["10.0.0.1/32", "10.0.0.2/32", "2001:db8::1/128"]),
        (["192.0.2.77/24"], ["192.0.2.0/24"]),
    ],
)
def test_collapse_networks(values, expected):
    assert collapse_networks(values) == expected


def test_collapse_networks_names_the_bad_items():
    with pytest.raises(AnsibleFilterError, match="'nope' not IP addresses"):
        collapse_networks(["10.0.0.1", "nope"])
