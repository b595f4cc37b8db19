"""Performance measurements, run on demand (never asserted as timings in tests)."""
