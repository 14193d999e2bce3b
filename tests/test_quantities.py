import pytest

from rag.quantities import find_quantities, parse_number


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("three", 3),
        ("3", 3),
        ("3,000", 3000),
        ("nearly 3,000", 3000),
        ("1.5 million", 1_500_000),
        ("twenty-five", 25),
        ("two hundred and five", 205),
        ("a dozen", 12),
        ("$4 billion", 4_000_000_000),
        ("40%", 40),
        ("dozens", None),
        ("several", None),
        ("Odessa", None),
    ],
)
def test_parse_number(text, value):
    assert parse_number(text) == value


def test_find_quantities_keeps_source_words_and_skips_years():
    found = find_quantities(
        "Since 2022, dozens of drones and nearly 3,000 violations; three were hurt."
    )
    assert [(q.text, q.value) for q in found] == [
        ("dozens", None),
        ("nearly 3,000", 3000),
        ("three", 3),
    ]
