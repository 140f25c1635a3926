"""The fast path of `normalize_phone` answers exactly as libphonenumber's full parse: the same
E.164 string, the same valid/invalid verdict and the same error text, whatever the region and the
shape of the number (issue #17: 100,000 numbers an import)."""

from __future__ import annotations

import subprocess
import sys

import phonenumbers
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE, SUPPORTED_REGIONS

from core import phones
from core.phones import PhoneNumberError, normalize_phone

REGIONS = sorted(SUPPORTED_REGIONS)
# Regions that share a country code, have a trunk prefix, a transform rule or leading zeros.
CLOSE_LOOK = ["RU", "KZ", "BY", "UA", "US", "CA", "GB", "DE", "IT", "AR", "MX", "BR", "FR", "CN"]
FORMATS = [PhoneNumberFormat.E164, PhoneNumberFormat.INTERNATIONAL, PhoneNumberFormat.NATIONAL]
TYPES = [PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE, PhoneNumberType.TOLL_FREE]
TYPES += [PhoneNumberType.PREMIUM_RATE, PhoneNumberType.VOIP, PhoneNumberType.PERSONAL_NUMBER]
TYPES += [PhoneNumberType.UAN, PhoneNumberType.SHARED_COST, PhoneNumberType.PAGER]


def library_only(raw: str, region: str) -> str:
    """`normalize_phone` as it was before the fast path: libphonenumber for every number."""
    text = (raw or "").strip()
    if text.lower() in {"", "anonymous", "unknown", "private", "restricted", "unavailable"}:
        raise PhoneNumberError(f"no phone number given ({raw!r})")
    if len(text) > 64:
        raise PhoneNumberError(f"phone number too long ({len(text)} characters)")
    candidates = [text]
    if not text.startswith("+"):
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
            return phonenumbers.format_number(number, PhoneNumberFormat.E164)
        last_error = "no such number in its numbering plan"
    raise PhoneNumberError(f"invalid phone number {raw!r}: {last_error}")


def outcome(fn, raw: str, region: str) -> tuple[str, str]:
    try:
        return ("ok", fn(raw, region))
    except PhoneNumberError as exc:
        return ("error", str(exc))


def assert_same(raw: str, region: str) -> None:
    assert outcome(normalize_phone, raw, region) == outcome(library_only, raw, region), (
        raw,
        region,
    )


def example_numbers(region: str) -> list[str]:
    """The metadata's example number of each type, spelled every way."""
    spelled = []
    for kind in TYPES:
        number = phonenumbers.example_number_for_type(region, kind)
        if number is not None:
            spelled += [phonenumbers.format_number(number, f) for f in FORMATS]
    return spelled


@st.composite
def spelled_numbers(draw) -> tuple[str, str]:
    region = draw(st.sampled_from(CLOSE_LOOK) | st.sampled_from(REGIONS))
    examples = example_numbers(region)
    if examples and draw(st.booleans()):
        base = draw(st.sampled_from(examples))
        digits = [c for c in base if c.isdigit()]
        for _ in range(draw(st.integers(0, 3))):  # another number of the same range, or not
            if digits:
                digits[draw(st.integers(0, len(digits) - 1))] = str(draw(st.integers(0, 9)))
        keep_plus = base.startswith("+")
        body = "".join(digits)
    else:
        country = phonenumbers.country_code_for_region(region)
        other = draw(st.sampled_from(sorted(COUNTRY_CODE_TO_REGION_CODE)))
        lead = draw(st.sampled_from(["", str(country), str(other), "8", "0", "810", "00", "1"]))
        body = lead + draw(st.text("0123456789", min_size=0, max_size=15))
        keep_plus = draw(st.booleans())
    cuts = draw(st.lists(st.integers(0, max(len(body), 1)), max_size=5))
    pieces, last = [], 0
    for cut in sorted(set(cuts)):
        pieces.append(body[last:cut])
        last = cut
    pieces.append(body[last:])
    separators = st.sampled_from([" ", "-", "(", ")", " (", ") ", "", "--", ".", "/"])
    text = pieces[0]
    for piece in pieces[1:]:
        text += draw(separators) + piece
    prefix = draw(st.sampled_from(["+", "+ ", "", "(", " "])) if keep_plus else ""
    return prefix + text + draw(st.sampled_from(["", " ", "-", ")"])), region


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spelled_numbers())
@example(("8 (916) 123-45-67", "RU"))
@example(("+7 (916) 123-45-67", "RU"))
@example(("79161234567", "RU"))
@example(("8 800 555-35-35", "RU"))
@example(("8 (7172) 12-34-56", "KZ"))
@example(("+7 7172 123456", "RU"))
@example(("8 (10) 1234567", "RU"))
@example(("+39 06 1234 5678", "IT"))
@example(("9161234567", "ru"))
def test_the_fast_path_answers_as_libphonenumber(case: tuple[str, str]) -> None:
    assert_same(*case)


@pytest.mark.parametrize("region", ["RU", "KZ", "BY", "US", "GB", "DE"])
@pytest.mark.parametrize(
    "spelling",
    ["8 ({}) 123-45-67", "+7 {} 123 45 67", "{}1234567", "+{}1234567", "7{}1234567", "8{}12345"],
)
def test_every_three_digit_range_agrees(region: str, spelling: str) -> None:
    """Validity depends on the number's range (+7 9xx mobile, +7 0xx nothing): all of them."""
    for prefix in range(1000):
        assert_same(spelling.format(f"{prefix:03d}"), region)


def test_the_benchmark_shapes_take_the_fast_path() -> None:
    """The import's common spellings never reach the full parse (what makes it fast)."""
    assert phones._plain_valid_e164("8 (916) 123-45-67", "RU") == "+79161234567"
    assert phones._plain_valid_e164("+7 916 123 45 67", "RU") == "+79161234567"
    assert phones._plain_valid_e164("9161234567", "RU") == "+79161234567"
    assert phones._plain_valid_e164("8 (7172) 12-34-56", "KZ") == "+77172123456"
    assert phones._plain_valid_e164("8 (916) 123", "RU") is None  # invalid: the library says why


def test_libphonenumber_is_imported_on_first_use_or_when_prepared() -> None:
    """The CLI's start-up does not import libphonenumber with core.phones; a service can."""
    probe = (
        "import sys, core.phones as p; a = 'phonenumbers' in sys.modules; p.prepare('RU'); "
        "print(a, 'phonenumbers' in sys.modules, p._region_rules.cache_info().currsize)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True", "1"]
