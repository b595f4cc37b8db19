"""Command-line tools for developers, QA and product owners (run with python -m tools.<name>)."""
