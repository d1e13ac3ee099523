"""Email addresses as we take them: any syntactically valid one.

Everywhere an address comes in (sign-up and login, a passport sign-in code, an invitation) it is
an ``EmailAddress``. email-validator, behind pydantic's ``EmailStr``, also refuses addresses it
deems not globally deliverable: a domain without a dot (``root@localhost``) and the special-use
names (``.local``, ``.test``, ``localhost``, ``.home.arpa``, …). A self-hosted server's people
often live exactly there, on a local network with its own mail server; whether a message can
be delivered is that mail server's business, not a rule of ours.
"""

from __future__ import annotations

from typing import Annotated

import email_validator
from pydantic import AfterValidator, Field

# The library's documented switch for special-use names is this module-level list, read at
# every call; there is no per-call option. Emptying it is process-wide, which is the policy:
# this server accepts such addresses wherever it checks one.
email_validator.SPECIAL_USE_DOMAIN_NAMES.clear()

MAX_EMAIL_LENGTH = 320  # a bound on the input; email-validator enforces the 254 of RFC 5321 itself


def valid_email(value: str) -> str:
    """The address in normal form (the domain lower-cased, Unicode normalised), or ValueError
    with the library's reason, which pydantic turns into a 422 naming the field."""
    try:
        parts = email_validator.validate_email(value.strip(), check_deliverability=False, globally_deliverable=False)
    except email_validator.EmailNotValidError as error:
        raise ValueError(f"value is not a valid email address: {error}") from None
    return parts.normalized


EmailAddress = Annotated[
    str,
    Field(max_length=MAX_EMAIL_LENGTH, json_schema_extra={"format": "email"}),
    AfterValidator(valid_email),
]

__all__ = ["EmailAddress", "valid_email"]
