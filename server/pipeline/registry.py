"""Registration (US8.3) and promotion (US8.4) in the model registry (Unity Catalog in a workspace).

Every registration is a new version, tagged with the git commit and branch of the code that trained it.
Promotion uses aliases (the deprecated None/Staging/Production stages are not used): the new version
becomes ``challenger``; it becomes ``champion`` only if its primary metric beats the champion's (the first
version of a model becomes champion). The decision and both metrics are recorded as tags of the version.
"""

from __future__ import annotations

import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from server.config import Settings
from server.pipeline import tracking
from server.pipeline.training import PRIMARY_METRIC

CHAMPION = "champion"
CHALLENGER = "challenger"
UNKNOWN = "unknown"
REPO = Path(__file__).resolve().parents[2]

FIRST_CHAMPION = "first_champion"
PROMOTED = "promoted"
KEPT_CHAMPION = "kept_champion"


@dataclass(frozen=True)
class Promotion:
    model_name: str
    version: str
    decision: str
    metric: str
    challenger_value: float
    champion_value: float | None
    previous_champion: str | None
    champion: str


def git_info(repo: Path = REPO) -> dict[str, str]:
    """The commit and branch of the code: "unknown" outside a git checkout; "detached" without a branch."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=repo, capture_output=True, text=True, timeout=5, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None

    sha = git("rev-parse", "HEAD")
    branch = git("rev-parse", "--abbrev-ref", "HEAD") if sha else None
    return {
        "git_sha": sha or UNKNOWN,
        "git_branch": (UNKNOWN if not sha else "detached" if branch == "HEAD" else branch or UNKNOWN),
    }


def register(settings: Settings, model_name: str, model_uri: str, code_dir: Path = REPO) -> str:
    """A new version of ``model_name`` (catalog.schema.model) from a logged model; returns its number.

    ``code_dir`` is the checkout whose commit and branch the version is tagged with.
    """
    import mlflow

    tracking.client(settings)
    version = mlflow.register_model(model_uri, model_name, tags=git_info(code_dir))
    return str(version.version)


def promote(settings: Settings, model_name: str, version: str, metric: str = PRIMARY_METRIC) -> Promotion:
    """Alias ``challenger`` on ``version``; also ``champion`` if it strictly beats the champion."""
    from mlflow.exceptions import MlflowException

    client = tracking.client(settings)
    challenger_value = _metric_of(client, model_name, version, metric)
    if challenger_value is None:
        raise ValueError(
            f"version {version} of {model_name} has no '{metric}' metric in its run: cannot compare"
        )
    try:
        current = client.get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException as error:
        if error.error_code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            raise
        current = None

    client.set_registered_model_alias(model_name, CHALLENGER, version)
    champion_value: float | None = None
    if current is None:
        decision = FIRST_CHAMPION
    elif str(current.version) == str(version):
        decision, champion_value = KEPT_CHAMPION, challenger_value
    else:
        champion_value = _metric_of(client, model_name, str(current.version), metric)
        decision = PROMOTED if champion_value is None or challenger_value > champion_value else KEPT_CHAMPION
    if decision in (FIRST_CHAMPION, PROMOTED):
        client.set_registered_model_alias(model_name, CHAMPION, version)

    result = Promotion(
        model_name=model_name,
        version=str(version),
        decision=decision,
        metric=metric,
        challenger_value=challenger_value,
        champion_value=champion_value,
        previous_champion=str(current.version) if current is not None else None,
        champion=str(version) if decision in (FIRST_CHAMPION, PROMOTED) else str(current.version),
    )
    for key, value in {
        "promotion_decision": decision,
        "promotion_metric": metric,
        f"challenger_{metric}": repr(challenger_value),
        f"champion_{metric}": "none" if champion_value is None else repr(champion_value),
        "compared_with_version": result.previous_champion or "none",
    }.items():
        client.set_model_version_tag(model_name, version, key, value)
    return result


def _metric_of(client, model_name: str, version: str, metric: str) -> float | None:
    model_version = client.get_model_version(model_name, version)
    if not model_version.run_id:
        return None
    return client.get_run(model_version.run_id).data.metrics.get(metric)


def describe(promotion: Promotion) -> dict:
    return asdict(promotion)
