# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure rules: validation, days to the next birthday (29 February), the greeting."""

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hello_service.birthdays import (ValidationError, birthday_in_year, days_until_birthday, greeting, parse_date_of_birth,
                                     validate_username)

D = datetime.date
TODAY = D(2024, 6, 15)


@pytest.mark.parametrize("born, today, days", [
    (D(1990, 6, 20), D(2024, 6, 15), 5),
    (D(1990, 6, 15), D(2024, 6, 15), 0),
    (D(1990, 6, 14), D(2024, 6, 15), 364),
    (D(1990, 1, 1), D(2023, 12, 31), 1),
    (D(1990, 12, 31), D(2024, 1, 1), 365),      # 2024 is a leap year
    (D(1990, 12, 31), D(2023, 1, 1), 364),
    (D(2001, 3, 1), D(2024, 2, 28), 2),         # via 29 Feb 2024
    (D(2001, 3, 1), D(2023, 2, 28), 1),
    (D(2000, 2, 29), D(2023, 2, 27), 1),
    (D(2000, 2, 29), D(2023, 2, 28), 0),        # common year: 28 Feb
    (D(2000, 2, 29), D(2023, 3, 1), 365),       # -> 29 Feb 2024
    (D(2000, 2, 29), D(2024, 2, 28), 1),        # leap year: 29 Feb
    (D(2000, 2, 29), D(2024, 2, 29), 0),
    (D(2000, 2, 29), D(2024, 3, 1), 364),       # -> 28 Feb 2025
    (D(2000, 2, 29), D(2024, 12, 31), 59),
    (D(2000, 2, 29), D(2027, 12, 31), 60),      # -> 29 Feb 2028
    (D(2000, 2, 29), D(2099, 3, 1), 364),       # 2100 is not a leap year -> 28 Feb 2100
    (D(1999, 2, 28), D(2024, 2, 28), 0),
    (D(1999, 2, 28), D(2024, 2, 29), 365),
])
def test_days_until_birthday(born, today, days):
    assert days_until_birthday(born, today) == days


def test_birthday_in_year():
    assert birthday_in_year(D(2000, 2, 29), 2023) == D(2023, 2, 28)
    assert birthday_in_year(D(2000, 2, 29), 2024) == D(2024, 2, 29)
    assert birthday_in_year(D(2000, 2, 29), 1900) == D(1900, 2, 28)
    assert birthday_in_year(D(2000, 2, 29), 2000) == D(2000, 2, 29)


@given(born=st.dates(max_value=D(9000, 1, 1)), today=st.dates(min_value=D(1, 1, 2), max_value=D(9000, 1, 1)))
def test_days_property(born, today):
    days = days_until_birthday(born, today)
    assert 0 <= days <= 365
    target = today + datetime.timedelta(days=days)
    assert target == birthday_in_year(born, target.year)
    # no birthday strictly between today and target
    for offset in range(days):
        day = today + datetime.timedelta(days=offset)
        assert day != birthday_in_year(born, day.year)


def test_greeting():
    assert greeting("alice", D(1990, 6, 20), TODAY) == "Hello, alice! Your birthday is in 5 day(s)"
    assert greeting("alice", D(1990, 6, 16), TODAY) == "Hello, alice! Your birthday is in 1 day(s)"
    assert greeting("alice", D(1990, 6, 15), TODAY) == "Hello, alice! Happy birthday!"


@pytest.mark.parametrize("name", ["a", "Z", "abc", "AbC", "a" * 30])
def test_valid_usernames(name):
    assert validate_username(name) == name


@pytest.mark.parametrize("name", ["", "a" * 31, "a1", "a b", "a-b", "\u00e9", "\u0430", "\uff41", "a\n", "\na", "K", "\u212a"])
def test_invalid_usernames(name):
    if name == "K":
        return  # plain ASCII K is fine; the KELVIN SIGN \u212a next to it is not
    with pytest.raises(ValidationError) as err:
        validate_username(name)
    assert err.value.code == "invalid_username"


@given(st.text(max_size=40))
def test_username_property(name):
    ascii_letters = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    ok = 1 <= len(name) <= 30 and set(name) <= ascii_letters
    try:
        validate_username(name)
        assert ok
    except ValidationError:
        assert not ok


@pytest.mark.parametrize("value, code", [
    ("2024-06-15", "date_not_in_past"),
    ("2024-06-16", "date_not_in_past"),
    ("2023-02-30", "invalid_date"),
    ("2023-02-29", "invalid_date"),
    ("0000-12-31", "invalid_date"),
    ("1990-1-1", "invalid_date_format"),
    ("1990-01-01\n", "invalid_date_format"),
    ("\u0661\u0669\u0669\u0660-01-01", "invalid_date_format"),
    (19900101, "invalid_date"),
    (None, "invalid_date"),
])
def test_invalid_dates(value, code):
    with pytest.raises(ValidationError) as err:
        parse_date_of_birth(value, TODAY)
    assert err.value.code == code
    assert "dateOfBirth" in err.value.message


def test_valid_dates():
    assert parse_date_of_birth("2024-06-14", TODAY) == D(2024, 6, 14)
    assert parse_date_of_birth("2024-02-29", TODAY) == D(2024, 2, 29)
    assert parse_date_of_birth("0001-01-01", TODAY) == D(1, 1, 1)


@given(st.dates())
def test_date_property(day):
    value = day.isoformat()
    if day < TODAY:
        assert parse_date_of_birth(value, TODAY) == day
    else:
        with pytest.raises(ValidationError):
            parse_date_of_birth(value, TODAY)
