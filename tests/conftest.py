"""Hypothesis profiles: ``ci`` (default) and ``thorough`` (HYPOTHESIS_PROFILE=thorough, for long hunts); a
watchdog on the interpreter's exit after the tests."""

import faulthandler
import os
import sys

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


EXIT_WATCHDOG_S = 300
"""Seconds the interpreter may take to exit once the tests are done: past it, every thread's stack is printed
and the process exits 1, so a thread or worker process left running by a test fails CI with its stack instead
of holding the run until CI's own timeout."""


def pytest_unconfigure(config: pytest.Config) -> None:
    faulthandler.dump_traceback_later(EXIT_WATCHDOG_S, exit=True, file=sys.__stderr__ or sys.stderr)
