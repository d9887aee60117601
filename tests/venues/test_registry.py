"""The bundled rulebooks by name: every file under venues/data, each named after its rulebook, and an unknown
name refused listing the known ones."""

from importlib.resources import files
from pathlib import Path

import pytest

from crossmargin.model import InputError
from crossmargin.venues import registry
from crossmargin.venues.registry import available, rulebook

FILES = sorted(entry.name.removesuffix(".yaml") for entry in (files("crossmargin.venues") / "data").iterdir()
               if entry.name.endswith(".yaml"))  # fmt: skip


def test_every_bundled_file_is_a_rulebook_named_after_it():
    assert available() == tuple(FILES)
    assert {"generic", "binance-usdm", "bybit-uta", "okx", "hyperliquid", "dydx-v4", "drift-v2"} <= set(FILES)
    for name in available():
        book = rulebook(name)
        assert book.name == name == book.rules.name and book.title and book.tables_taken
    assert rulebook("okx") is rulebook("okx")  # read once


def test_an_unknown_rulebook_is_refused_listing_the_known_ones():
    with pytest.raises(InputError) as err:
        rulebook("binance")
    assert err.value.field == "rulebook"
    assert err.value.message == f"unknown rulebook 'binance'; known: {', '.join(FILES)}"


def test_a_file_named_apart_from_its_rulebook_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "mine.yaml").write_text("name: other\ntitle: t\ntables_taken: '2025-01-01'\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a rulebook", encoding="utf-8")
    monkeypatch.setattr(registry, "_DATA", tmp_path)
    registry._all.cache_clear()
    try:
        with pytest.raises(InputError) as err:
            available()
        assert err.value.field == "rulebook mine.yaml"
        assert "names itself 'other'" in err.value.message
    finally:
        monkeypatch.undo()
        registry._all.cache_clear()
    assert "okx" in available()
