"""The Databricks App under test."""

__version__ = "0.1.0"
