"""Operational commands for the suite (python -m tools.<name>)."""
