"""The raw-value checks of scenario files: each refusal names its field and shows the value as written."""

from decimal import Decimal

import pytest

from crossmargin.model import InputError
from crossmargin.sim.scenarios import fields


@pytest.mark.parametrize(
    ("raw", "shown"),
    [(3, "3"), (Decimal("2.50"), "2.50"), (1.5, "1.5"), ("x", "'x'"), (True, "bool"), (None, "NoneType")],
)
def test_a_refused_value_is_shown_as_written_or_by_its_type(raw: object, shown: str) -> None:
    assert fields.kind_of(raw) == shown


def test_each_check_names_its_field() -> None:
    assert fields.mapping({"a": 1}, "f") == {"a": 1}
    with pytest.raises(InputError, match=r"^f: expected a mapping of keys, got 'x'$"):
        fields.mapping("x", "f")
    assert fields.listed((1, 2), "f") == [1, 2]
    with pytest.raises(InputError, match=r"^f: expected a list, got 3$"):
        fields.listed(3, "f")
    with pytest.raises(InputError, match=r"^f\.b: unknown key; expected one of a$"):
        fields.keys({"b": 1}, "f", ("a",), ())
    with pytest.raises(InputError, match=r"^a: is required$"):
        fields.keys({}, "", ("a",), ("a",))
    assert fields.text("", "f", empty=True) == ""
    with pytest.raises(InputError, match=r"^f: expected a non-empty string, got ' '$"):
        fields.text(" ", "f")
