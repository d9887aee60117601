"""The README's two commands stay true: CI runs the README's test command, and the main command's file exists."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```bash\n(python3 -m venv [^\n]+)\n```", text)


def test_readme_has_exactly_two_fresh_machine_commands():
    main, tests = readme_commands()
    assert "crossmargin evaluate examples/portfolio.yaml" in main
    assert (ROOT / "examples" / "portfolio.yaml").is_file()
    assert tests.endswith("pytest")


def test_ci_runs_the_readme_test_command_verbatim():
    _, tests = readme_commands()
    assert tests in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
