"""Phone numbers: everything stored is E.164, parsed with Google's libphonenumber rules.

libphonenumber is imported on first use, not with this module: the CLI's start-up does not pay for
it. A number written as plain digits ('8 (916) 123-45-67', '+7 916 123 45 67', '9161234567') takes
a fast path that applies the library's own metadata (national prefix, lengths, number-type
patterns) in a few regex matches; it only ever answers "valid, this E.164", and everything else —
other shapes, invalid numbers, every error message — goes through the full parse. That the two
agree is tested over generated numbers of many regions (tests/models/test_phone_fast_path.py).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from phonenumbers import PhoneMetadata

# What Asterisk puts in CALLERID(num) when it has no number.
_NO_NUMBER = frozenset({"", "anonymous", "unknown", "private", "restricted", "unavailable"})
_MAX_INPUT = 64
# The shape the fast path reads: ASCII digits with spaces, dashes and brackets, one leading '+'.
_PLAIN = re.compile(r"(\+?)([0-9][0-9 ()-]*)", re.ASCII)
_NOT_DIGIT = re.compile(r"[^0-9]")
_MAX_COUNTRY_CODE = 3  # digits


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
    fast = _plain_valid_e164(text, region)
    if fast is not None:
        return fast
    return _parse_with_library(text, raw, region)


def try_normalize_phone(raw: str | None, region: str = "RU") -> str | None:
    """E.164 or None, for untrusted input such as a caller ID."""
    try:
        return normalize_phone(raw or "", region)
    except PhoneNumberError:
        return None


def prepare(region: str = "RU") -> None:
    """Load libphonenumber and `region`'s rules now — for a service's start-up, so that its first
    caller does not pay for them (the import is otherwise on first use)."""
    import phonenumbers  # noqa: F401

    _region_rules(region)


def _parse_with_library(text: str, raw: str, region: str) -> str:
    import phonenumbers

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


# --- The fast path: libphonenumber's parse and is_valid_number for plain digits, step by step.


def _plain_valid_e164(text: str, region: str) -> str | None:
    """E.164 when `text` is plain digits that libphonenumber would parse as `text` under `region`
    into a valid number; None when unsure (the caller then asks the library itself)."""
    shape = _PLAIN.fullmatch(text)
    if shape is None:
        return None
    home = _region_rules(region)
    if home is None:
        return None
    digits = _NOT_DIGIT.sub("", shape.group(2))
    if shape.group(1):  # '+': the country code comes from the digits
        country = _country_code_of(digits)
        if country is None:
            return None
        national = digits[len(str(country)) :]
        rules = _country_rules(country)
    else:
        if home.idd.match(digits) or digits.startswith(home.country_str):
            return None  # an international prefix or the country code without '+': the library
        country, national, rules = home.country, digits, home
    if rules is None:
        return None
    national = rules.strip_national_prefix(national)
    if national is None or national.startswith("0") or not _valid(country, national):
        return None
    return f"+{country}{national}"


@dataclass(frozen=True)
class _Desc:
    """A PhoneNumberDesc: the lengths it allows (empty: any) and its pattern."""

    lengths: frozenset[int]
    pattern: re.Pattern[str] | None

    def matches(self, national: str) -> bool:  # libphonenumber's _is_number_matching_desc
        if self.lengths and len(national) not in self.lengths:
            return False
        return self.pattern is not None and self.pattern.fullmatch(national) is not None

    def pattern_matches(self, national: str) -> bool:  # _match_national_number
        return self.pattern is not None and self.pattern.fullmatch(national) is not None


@dataclass(frozen=True)
class _Rules:
    """What the fast path reads of one region's metadata."""

    country: int
    country_str: str
    idd: re.Pattern[str]
    national_prefix: re.Pattern[str] | None
    general: _Desc
    possible_lengths: tuple[int, ...]
    local_only_lengths: frozenset[int]
    leading_digits: re.Pattern[str] | None
    types: tuple[_Desc, ...]  # every type but mobile, in the library's order
    mobile: _Desc | None  # None when mobile and fixed line share their pattern
    by_length: dict[int, re.Pattern[str] | None] = field(default_factory=dict, compare=False)

    def strip_national_prefix(self, national: str) -> str | None:
        """The national number after libphonenumber drops a trunk prefix (as `parse` keeps the
        result: only when its length is possible); None when a transform rule would apply."""
        if self.national_prefix is None or not national:
            return national
        found = self.national_prefix.match(national)
        if found is None:
            return national
        if found.groups() and found.groups()[-1] is not None:
            return None  # a transform rule region (never plain here): let the library decide
        stripped = national[found.end() :]
        if self.general.pattern_matches(national) and not self.general.pattern_matches(stripped):
            return national
        return stripped if self._length_allows(stripped) else national

    def _length_allows(self, national: str) -> bool:
        """`parse` keeps a stripped number unless _test_number_length calls it too short, possible
        only locally or of an invalid length (a too long one is kept)."""
        size, lengths = len(national), self.possible_lengths
        if size in self.local_only_lengths:
            return False
        if size <= lengths[0]:
            return size == lengths[0]
        return size > lengths[-1] or size in lengths[1:]

    def known_type(self, national: str) -> bool:  # _number_type_helper(...) != UNKNOWN
        if not self.general.matches(national):
            return False
        types = self._types_of_length(len(national))
        return types is not None and types.fullmatch(national) is not None

    def _types_of_length(self, size: int) -> re.Pattern[str] | None:
        """One pattern for every number type that allows `size` digits: a number is of some
        type when it matches their alternation (no metadata pattern uses a back-reference)."""
        if size not in self.by_length:
            descs = (*self.types, *((self.mobile,) if self.mobile is not None else ()))
            patterns = [
                f"(?:{d.pattern.pattern})"
                for d in descs
                if d.pattern is not None and (not d.lengths or size in d.lengths)
            ]
            self.by_length[size] = re.compile("|".join(patterns)) if patterns else None
        return self.by_length[size]


def _desc(desc: object) -> _Desc | None:
    if desc is None:
        return None
    pattern = getattr(desc, "national_number_pattern", None)
    return _Desc(
        frozenset(getattr(desc, "possible_length", ()) or ()),
        re.compile(pattern) if pattern else None,
    )


def _rules(metadata: PhoneMetadata) -> _Rules | None:
    if metadata.national_prefix_transform_rule:
        return None  # rare (Argentina, Mexico…): the library handles those regions
    general = _desc(metadata.general_desc)
    if general is None or not general.lengths:
        return None
    kinds = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager")
    kinds += ("uan", "voicemail", "fixed_line")
    types = tuple(d for d in (_desc(getattr(metadata, k)) for k in kinds) if d is not None)
    mobile = None if metadata.same_mobile_and_fixed_line_pattern else _desc(metadata.mobile)
    general_desc = metadata.general_desc
    return _Rules(
        country=metadata.country_code,
        country_str=str(metadata.country_code),
        idd=re.compile(metadata.international_prefix or "NonMatch"),
        national_prefix=(
            re.compile(metadata.national_prefix_for_parsing)
            if metadata.national_prefix_for_parsing
            else None
        ),
        general=general,
        possible_lengths=tuple(general_desc.possible_length),
        local_only_lengths=frozenset(general_desc.possible_length_local_only or ()),
        leading_digits=re.compile(metadata.leading_digits) if metadata.leading_digits else None,
        types=types,
        mobile=mobile,
    )


@functools.cache
def _region_rules(region: str) -> _Rules | None:
    from phonenumbers import PhoneMetadata
    from phonenumbers.phonenumberutil import SUPPORTED_REGIONS

    if region not in SUPPORTED_REGIONS:  # parse refuses 'ru' as a default region, and so do we
        return None
    metadata = PhoneMetadata.metadata_for_region(region, None)
    return None if metadata is None else _rules(metadata)


@functools.cache
def _country_rules(country: int) -> _Rules | None:
    """The rules `parse` applies to a number with this country code: its main region's."""
    import phonenumbers

    region = phonenumbers.region_code_for_country_code(country)
    return None if region in ("ZZ", "001") else _region_rules(region)


@functools.cache
def _regions_of(country: int) -> tuple[_Rules, ...] | None:
    """The regions sharing a country code, in the library's order (None: a non-geographic one)."""
    from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

    regions = COUNTRY_CODE_TO_REGION_CODE.get(country, ())
    if not regions or "001" in regions:
        return None
    rules = tuple(_region_rules(region) for region in regions)
    return None if any(r is None for r in rules) else rules  # type: ignore[return-value]


def _country_code_of(digits: str) -> int | None:
    from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

    if len(digits) <= 2 or digits[0] == "0":
        return None  # too short after the '+', or no country code starts with 0: the library
    for size in range(1, _MAX_COUNTRY_CODE + 1):
        if int(digits[:size]) in COUNTRY_CODE_TO_REGION_CODE:
            return int(digits[:size])
    return None


def _valid(country: int, national: str) -> bool:
    """libphonenumber's is_valid_number for (country, national): the region the number belongs
    to (by leading digits, or the first whose patterns know it), then its number types."""
    regions = _regions_of(country)
    if regions is None or not 2 <= len(national) <= 17:
        return False
    if len(regions) == 1:
        return regions[0].known_type(national)
    for rules in regions:
        if rules.leading_digits is not None:
            if rules.leading_digits.match(national):
                return rules.known_type(national)
        elif rules.known_type(national):
            return True
    return False
