"""Phone numbers: everything stored is E.164, parsed with Google's libphonenumber rules."""

from __future__ import annotations

import phonenumbers

# What Asterisk puts in CALLERID(num) when it has no number.
_NO_NUMBER = frozenset({"", "anonymous", "unknown", "private", "restricted", "unavailable"})
_MAX_INPUT = 64


class PhoneNumberError(ValueError):
    """The text is not a phone number that can be dialled; the message says why."""


def normalize_phone(raw: str, region: str = "RU") -> str:
    """Return `raw` as E.164 ('+79161234567') or raise PhoneNumberError with a clear reason.

    A leading trunk prefix ('8 916 …' in Russia) and a missing country code are resolved through
    `region`, so '8 916 123-45-67', '+7 (916) 123-45-67', '79161234567' and '9161234567' agree.
    """
    text = (raw or "").strip()
    if text.lower() in _NO_NUMBER:
        raise PhoneNumberError(f"no phone number given ({raw!r})")
    if len(text) > _MAX_INPUT:
        raise PhoneNumberError(f"phone number too long ({len(text)} characters)")
    candidates = [text]
    if not text.startswith("+"):
        # '79161234567' has the country code but no '+'; try it as international too.
        digits = "".join(ch for ch in text if ch.isdigit())
        if digits:
            candidates.append("+" + digits)
    last_error = "not a phone number"
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException as exc:
            last_error = str(exc).split(") ", 1)[-1].rstrip(".").lower()
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        last_error = "no such number in its numbering plan"
    raise PhoneNumberError(f"invalid phone number {raw!r}: {last_error}")


def try_normalize_phone(raw: str | None, region: str = "RU") -> str | None:
    """E.164 or None, for untrusted input such as a caller ID."""
    try:
        return normalize_phone(raw or "", region)
    except PhoneNumberError:
        return None
