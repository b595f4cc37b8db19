"""The ML pipeline's command line, end to end: against the fake workspace's MLflow (``databricks`` /
``databricks-uc``, as a job in a workspace runs it), and alone for the commands that need no workspace."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.stack.mock import ROOT


def pipeline(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """A command that needs no workspace (it stops before reaching one), in a clean environment."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "server.pipeline", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_prepare_prints_the_cleaning_report(tmp_path: Path) -> None:
    done = pipeline(tmp_path, "prepare", "--rows", "300", "--seed", "5")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["raw_rows"] == 303 and report["rows"] == 297, report
    assert len(report["fingerprint"]) == 64


def test_train_register_promote_then_promote_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow_workspace: str
) -> None:
    """In-process (one MLflow import instead of three); the same ``main`` that ``python -m`` runs."""
    import mlflow

    from server.pipeline.__main__ import main

    monkeypatch.chdir(tmp_path)
    model = f"{mlflow_workspace}.churn_cli"
    trained = run_main(main, "train", "--experiment", "/Shared/cli", "--rows", "400", "--seed", "5",
                       "--register-as", model, "--promote")  # fmt: skip
    assert trained["version"] == "1"
    assert trained["promotion"]["decision"] == "first_champion"
    assert 0.5 < trained["metrics"]["roc_auc"] <= 1.0
    assert not (tmp_path / "mlruns").exists(), "artifacts go to the workspace, never to a local folder"
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(trained["run_id"])}
    assert {"plots", "monitoring"} <= artifacts, artifacts

    again = run_main(main, "register", "--model-name", model, "--model-uri", trained["model_uri"])
    assert again["version"] == "2"
    # The same model again: an equal ROC AUC does not beat the champion.
    promoted = run_main(main, "promote", "--model-name", model, "--version", "2")
    assert promoted["decision"] == "kept_champion"
    assert promoted["champion"] == "1"


def run_main(main, *args: str) -> dict:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(list(args)) == 0
    return json.loads(out.getvalue())  # stdout holds the JSON result only (MLflow's run links go to stderr)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["train", "--experiment", "/Shared/cli", "--features", "shoe_size"],
            "unknown features ['shoe_size']",
        ),
        (["prepare", "--rows", "50"], "at least 100 expected"),
    ],
)
def test_bad_input_fails_with_a_clear_message(tmp_path: Path, args: list[str], message: str) -> None:
    done = pipeline(tmp_path, *args)
    assert done.returncode == 1
    assert message in done.stderr, done.stderr
