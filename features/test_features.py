"""Binds every .feature file in this folder; step phrases come from steps/ (see the root conftest.py)."""

from pytest_bdd import scenarios

scenarios(".")
