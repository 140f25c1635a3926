from __future__ import annotations

import pytest

from core.phones import PhoneNumberError, normalize_phone, try_normalize_phone

SAME_MOSCOW_MOBILE = [
    "8 916 123-45-67",
    "+7 (916) 123-45-67",
    "79161234567",
    "9161234567",
    "+79161234567",
    "8(916)1234567",
    "+7-916-123-45-67",
    "  8 916 123 45 67  ",
    "7 916 123 45 67",
    "+7 916 123 4567",
]


@pytest.mark.parametrize("raw", SAME_MOSCOW_MOBILE)
def test_russian_spellings_are_one_number(raw: str) -> None:
    assert normalize_phone(raw, "RU") == "+79161234567"


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("8 (495) 123-45-67", "RU", "+74951234567"),
        ("+44 20 7946 0958", "RU", "+442079460958"),
        ("810 44 20 7946 0958", "RU", "+442079460958"),
        ("+1 (212) 555-0123", "RU", "+12125550123"),
        ("(212) 555-0123", "US", "+12125550123"),
        ("030 12345678", "DE", "+493012345678"),
        ("+49 30 12345678", "RU", "+493012345678"),
        ("+375 29 123-45-67", "RU", "+375291234567"),
        ("+7 727 250 0000", "RU", "+77272500000"),  # Kazakhstan shares +7
    ],
)
def test_other_regions_and_international(raw: str, region: str, expected: str) -> None:
    assert normalize_phone(raw, region) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "anonymous",
        "unknown",
        "abc",
        "123",
        "+7916123456789",
        "8 800",
        "1" * 200,
        "+7 (916) 12x-45-67",
        '"Ivan" <>',
        "\n",
    ],
)
def test_garbage_is_rejected_with_a_reason(raw: str) -> None:
    with pytest.raises(PhoneNumberError) as info:
        normalize_phone(raw, "RU")
    message = str(info.value)
    assert message and "\n" not in message.strip()
    assert try_normalize_phone(raw, "RU") is None
