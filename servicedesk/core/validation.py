"""Input types that cannot reach the database as an error.

PostgreSQL rejects NUL characters and unpaired surrogates in text that SQLite
stores silently; integers beyond a column's range overflow on one database
and not the other. Every API schema uses these types, so bad input is a 422
naming the field, on both databases alike.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints


def clean_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("NUL characters are not allowed")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("text is not valid Unicode") from exc
    return value


def clean_datetime(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if not 1900 <= value.year <= 9000:
        raise ValueError("year must be between 1900 and 9000")
    # Any offset Python accepts (even +23:59) is a moment; PostgreSQL takes
    # offsets only up to 15:59, so the moment travels as UTC.
    return value.astimezone(UTC)


SafeText = Annotated[str, StringConstraints(max_length=100_000), AfterValidator(clean_text)]
ShortText = Annotated[str, StringConstraints(max_length=200), AfterValidator(clean_text)]
# Names of records (groups, integrations, rules, ...): their columns hold 100.
Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100, strip_whitespace=True),
    AfterValidator(clean_text),
]
Title = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, strip_whitespace=True),
    AfterValidator(clean_text),
]
Phone = Annotated[str, StringConstraints(max_length=40), AfterValidator(clean_text)]
Code = Annotated[str, StringConstraints(max_length=64), AfterValidator(clean_text)]
# Ids of rows: positive and inside a 32-bit signed column on every database.
Id = Annotated[int, Field(ge=1, le=2_147_483_647)]
Count = Annotated[int, Field(ge=0, le=100_000_000)]
SafeDateTime = Annotated[datetime, AfterValidator(clean_datetime)]
