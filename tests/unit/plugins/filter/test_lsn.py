"""Unit tests for the lsn_int filter."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.hello.platform.plugins.filter.lsn import FilterModule, lsn_int


@pytest.mark.parametrize(
    ("lsn", "expected"),
    [
        ("0/0", 0),
        ("0/3000060", 0x3000060),
        ("16/B374D848", (0x16 << 32) + 0xB374D848),
        ("ffffffff/ffffffff", (1 << 64) - 1),
        (" 1/0 ", 1 << 32),
    ],
)
def test_lsn_int(lsn, expected):
    assert lsn_int(lsn) == expected


def test_lsn_order_crosses_the_slash():
    # 1/0 is after 0/FFFFFFFF: a string comparison gets this wrong.
    assert lsn_int("1/0") > lsn_int("0/FFFFFFFF")


@pytest.mark.parametrize("bad", ["", "0", "0/", "/0", "0/3000060/1", "g/0", "0/123456789", None, "0x1/0"])
def test_lsn_int_rejects(bad):
    with pytest.raises(AnsibleFilterError, match="not a PostgreSQL LSN"):
        lsn_int(bad)


def test_registered():
    assert FilterModule().filters()["lsn_int"] is lsn_int
