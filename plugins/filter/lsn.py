# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters: PostgreSQL WAL positions (LSNs) as numbers."""

from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

_LSN = re.compile(r"^([0-9A-Fa-f]{1,8})/([0-9A-Fa-f]{1,8})$")


def lsn_int(value):
    """'16/B374D848' -> 97500059720: the byte position an LSN names, comparable and subtractable."""
    match = _LSN.match(str(value).strip())
    if not match:
        raise AnsibleFilterError(
            "lsn_int: %r is not a PostgreSQL LSN (two hexadecimal numbers separated by '/', like 0/3000060)" % (value,)
        )
    return (int(match.group(1), 16) << 32) + int(match.group(2), 16)


class FilterModule:
    """LSN filters."""

    def filters(self):
        return {"lsn_int": lsn_int}
