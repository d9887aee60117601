"""The README's two commands stay true: CI runs the README's test command and its main command."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```bash\n(python3 -m venv [^\n]+)\n```", text)


def test_readme_has_exactly_two_fresh_machine_commands():
    main, tests = readme_commands()
    assert main.endswith("crossmargin demo --out demo")
    assert tests.endswith("pytest")


def test_ci_runs_the_readme_main_command():
    main, _ = readme_commands()
    command = main.split(" && ")[-1].replace(".venv/bin/crossmargin", "")
    assert any(line.endswith(command + " > /dev/null") for line in (ROOT / ".ci" / "run").read_text().splitlines())


def test_ci_runs_the_readme_test_command_verbatim():
    _, tests = readme_commands()
    assert tests in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
