"""Work email addresses typed by people (a colleague invited to a TSM), checked with ``email-validator`` (a
well-kept library: RFC 5322/6531 syntax, internationalised domains, no CR/LF or other control characters, which
once jammed a meeting's calendar sync). No DNS lookup: the address is checked as written, fast and offline."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from .errors import InvalidInput

MAX_EMAIL = 254


def work_email(value: object, *, label: str = "the email address") -> str:
    """``value`` as a normalised, lower-cased address, or InvalidInput with a sentence (nothing is saved)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"Please give {label}.")
    raw = value.strip()
    shown = "".join(ch if ch.isprintable() else "?" for ch in raw)[:80]
    if len(raw) > MAX_EMAIL or any(not ch.isprintable() for ch in raw):
        raise InvalidInput(f"“{shown}” is not a valid work email address: please type it again on one line.")
    try:
        checked = validate_email(
            raw,
            check_deliverability=False,
            allow_smtputf8=True,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_display_name=False,
        )
    except EmailNotValidError as exc:
        raise InvalidInput(f"“{shown}” is not a valid work email address ({exc}).") from None
    return checked.normalized.lower()
