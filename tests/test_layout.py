"""``tests/`` mirrors the package: every module ``src/crossmargin/<pkg>/<name>.py`` has its test file
``tests/<pkg>/test_<name>.py`` (docs DESIGN.md, "Code habits"), so a module's tests are found where its name
says. A module without one fails here, unless it is exempt below with the reason."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "crossmargin"
TESTS = ROOT / "tests"

EXEMPT = {
    # Package __init__ modules re-export their package's names (or hold a version or a schema path): what they
    # export is tested through the modules that define it, and a test file for each would be empty.
    "__init__.py": "re-exports",
    # Alembic's environment and revision scripts are run, not imported: every store test migrates a fresh
    # database through them, and tests/service/test_schema.py holds what they build equal to schema.py.
    "service/migrations/": "Alembic scripts",
}


def modules() -> list[str]:
    """Every module of the package, as a path relative to ``src/crossmargin``."""
    return sorted(path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py"))


def mirror_of(module: str) -> Path:
    """Where the tests of ``module`` (``pkg/name.py``) live: ``tests/pkg/test_name.py``."""
    path = Path(module)
    return TESTS / path.parent / f"test_{path.name}"


def exempt(module: str) -> bool:
    return any(module == key or module.endswith(f"/{key}") or module.startswith(key) for key in EXEMPT)


def test_every_module_has_its_test_file():
    missing = [module for module in modules() if not exempt(module) and not mirror_of(module).is_file()]
    assert not missing, "modules without tests/<pkg>/test_<name>.py:\n" + "\n".join(
        f"  src/crossmargin/{module} -> {mirror_of(module).relative_to(ROOT)}" for module in missing
    )


def test_every_exemption_still_exempts_a_module():
    # an entry left behind after its module got its test file (or went away) is removed, not kept
    listed = modules()
    for key in EXEMPT:
        covered = [m for m in listed if m == key or m.endswith(f"/{key}") or m.startswith(key)]
        assert covered, f"{key!r} exempts no module"
        if key != "__init__.py" and not key.endswith("/"):
            assert not mirror_of(key).is_file(), f"{key} has its test file now: drop it from EXEMPT"


def test_the_mapping_is_the_documented_one():
    assert mirror_of("sim/stress/params.py") == TESTS / "sim" / "stress" / "test_params.py"
    assert mirror_of("model/tiers.py") == TESTS / "model" / "test_tiers.py"
    assert exempt("engine/__init__.py") and exempt("cli/__init__.py")
    assert not exempt("cli/main.py") and not exempt("engine/book.py")
