"""The limits of the counts given on the command line, and their parser.

Each count is checked before any work, so that a mistyped size fails at once instead of after minutes or
gigabytes: ``error: --paths: must be from 1 to 10,000, got 100,000`` and exit code 2. The limits are
documented with their commands (docs/stress.md, docs/benchmarks.md).
"""

from crossmargin.model import InputError

MIN_ACCOUNTS = 10
MAX_ACCOUNTS = 1_000_000  # bench --accounts, stress --generate, demo --accounts: the largest book measured
MAX_PATHS = 10_000  # stress --paths
MAX_SEED = 2**32 - 1  # --seed
MAX_REPEATS = 1_000  # bench --repeats


def parse_count(text: str, option: str, low: int, high: int) -> int:
    """The whole number written in ``text``, from ``low`` to ``high``; the error names ``option``."""
    try:
        value = int(text.strip())
    except ValueError:
        raise InputError(option, f"not a whole number: {text!r}") from None
    if not low <= value <= high:
        raise InputError(option, f"must be from {low:,} to {high:,}, got {value:,}")
    return value
