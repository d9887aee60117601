"""Shared by the scenario tests: a small valid scenario document to change one key of."""

from typing import Any


def base(**changes: Any) -> dict[str, Any]:
    """A small valid scenario document; ``changes`` replace top-level keys."""
    doc: dict[str, Any] = {
        "name": "test",
        "step_seconds": 60,
        "steps": 10,
        "assets": {
            "BTC": {"table": [[0, 1.0], [300, 0.8]]},
            "ETH": {"table": [[0, 1.0], [600, 0.7]]},
            "SOL": {"gbm": {"sigma": 1.2}},
            "XRP": {"gbm": {"sigma": 0.9}},
        },
        "faults": [{"stale": {"symbol": "BTC", "source": "s1", "start": 0, "end": 60}}],
    }
    doc.update(changes)
    return doc
