"""The secret sweep finds each credential shape the suite handles, and passes redacted text."""

from __future__ import annotations

from fixtures.reporting.redaction import redact
from tools.secret_sweep import sweep


def test_finds_unredacted_credentials(tmp_path) -> None:
    leaked = tmp_path / "attachment.txt"
    leaked.write_text(
        "X-Forwarded-Access-Token: dapi" + "a" * 32 + "\nAuthorization: Bearer eyJfake." + "b" * 32 + "\n"
        '{"token": "lakebase-' + "c" * 48 + '"}\n'
    )
    kinds = {finding.split(": ", 1)[1].split(" (")[0] for finding in sweep([tmp_path])}
    assert {
        "personal access token",
        "fake OAuth access token",
        "Lakebase credential",
        "bearer header",
    } <= kinds


def test_redacted_text_passes(tmp_path) -> None:
    text = "Authorization: Bearer eyJfake." + "b" * 32 + '\n{"token": "lakebase-' + "c" * 48 + '"}'
    (tmp_path / "clean.txt").write_text(redact(text))
    assert sweep([tmp_path]) == []
