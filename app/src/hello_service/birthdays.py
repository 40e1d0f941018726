# Copyright: hello.platform developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service's rules, as pure functions: username and date validation, days to the next birthday.

29 February: in a common year the birthday falls on 28 February.
"""

import calendar
import datetime
import re

USERNAME_MAX = 30
USERNAME_RE = re.compile(r"[A-Za-z]{1,%d}" % USERNAME_MAX)
# [0-9], not \d: \d also matches non-ASCII digits such as U+0661.
DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
DATE_FIELD = "dateOfBirth"


class ValidationError(ValueError):
    """Invalid input: a short machine-readable code and a message for humans."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def validate_username(username: str) -> str:
    """Return username when it is 1-30 ASCII letters, else raise ValidationError."""
    if not isinstance(username, str) or not USERNAME_RE.fullmatch(username):
        raise ValidationError("invalid_username",
                              f"username must be 1 to {USERNAME_MAX} ASCII letters (A-Z, a-z); no digits, spaces or other characters")
    return username


def parse_date_of_birth(value: object, today: datetime.date) -> datetime.date:
    """Validate the dateOfBirth value: a YYYY-MM-DD string, a real calendar date, before today."""
    if not isinstance(value, str):
        raise ValidationError("invalid_date", f"{DATE_FIELD} must be a string in YYYY-MM-DD format, not {_json_type(value)}")
    if not DATE_RE.fullmatch(value):
        raise ValidationError("invalid_date_format", f"{DATE_FIELD} must be in YYYY-MM-DD format (e.g. 1990-07-14)")
    try:
        parsed = datetime.date(int(value[0:4]), int(value[5:7]), int(value[8:10]))
    except ValueError:
        raise ValidationError("invalid_date", f"{DATE_FIELD} {value} is not a real calendar date") from None
    if parsed >= today:
        raise ValidationError("date_not_in_past", f"{DATE_FIELD} {value} must be a date before today ({today.isoformat()})")
    return parsed


def birthday_in_year(born: datetime.date, year: int) -> datetime.date:
    """The birthday in the given year; 29 February becomes 28 February in a common year."""
    if born.month == 2 and born.day == 29 and not calendar.isleap(year):
        return datetime.date(year, 2, 28)
    return born.replace(year=year)


def days_until_birthday(born: datetime.date, today: datetime.date) -> int:
    """Days from today to the next birthday (0 when today is the birthday)."""
    this_year = birthday_in_year(born, today.year)
    if this_year >= today:
        return (this_year - today).days
    return (birthday_in_year(born, today.year + 1) - today).days


def greeting(username: str, born: datetime.date, today: datetime.date) -> str:
    days = days_until_birthday(born, today)
    if days == 0:
        return f"Hello, {username}! Happy birthday!"
    return f"Hello, {username}! Your birthday is in {days} day(s)"


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
