"""Performance measurements, run on demand (never asserted as timings in tests)."""

from __future__ import annotations

import statistics


def spread(samples: list[float], digits: int = 3) -> dict:
    """min/median/max (and the samples) of repeated measurements."""
    return {
        "min": round(min(samples), digits),
        "median": round(statistics.median(samples), digits),
        "max": round(max(samples), digits),
        "samples": [round(s, digits) for s in samples],
    }
