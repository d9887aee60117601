"""Writing a report's files whole or not at all."""

from pathlib import Path

import pytest

from crossmargin.model import InputError
from crossmargin.report.files import write_files


def test_the_files_are_written_whole_and_no_temporary_file_stays(tmp_path: Path) -> None:
    out = tmp_path / "made" / "here"
    write_files(out, (("a.txt", "é\n"), ("b.json", "{}\n")))
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "b.json"]
    assert (out / "a.txt").read_text(encoding="utf-8") == "é\n"


def test_a_failure_names_out_and_leaves_nothing_half_written(tmp_path: Path) -> None:
    (tmp_path / "b.json").mkdir()  # the second file cannot replace a directory
    with pytest.raises(InputError, match=r"^--out: cannot write "):
        write_files(tmp_path, (("a.txt", "first\n"), ("b.json", "{}\n")))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.json"]
    assert (tmp_path / "b.json").is_dir() and not list((tmp_path / "b.json").iterdir())
