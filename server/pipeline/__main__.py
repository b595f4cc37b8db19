"""The ML pipeline's command line: ``python -m server.pipeline {prepare,train,register,promote} ...``.

Configuration comes from the environment, as for the app: ``MLFLOW_TRACKING_URI`` / ``MLFLOW_REGISTRY_URI``
(``databricks`` / ``databricks-uc`` by default), ``MLFLOW_ARTIFACT_LOCATION`` (optional) and, for tables,
Databricks unified auth (``DATABRICKS_HOST`` + credentials or ``DATABRICKS_CONFIG_PROFILE``). Each command
prints one JSON object on stdout; errors go to stderr with exit status 1 (2 for bad arguments).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from server.config import Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m server.pipeline", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    def data_source(command: argparse.ArgumentParser) -> None:
        command.add_argument("--rows", type=int, default=2000, help="synthetic customers to generate")
        command.add_argument("--seed", type=int, default=7, help="seed of the synthetic data")
        command.add_argument("--test-fraction", type=float, default=0.25)
        command.add_argument("--warehouse-id", help="SQL warehouse for --table")

    prepare = commands.add_parser(
        "prepare", help="generate, clean, split, validate; optionally write a table"
    )
    data_source(prepare)
    prepare.add_argument("--table", help="catalog.schema.table to (re)create with change data feed on")
    prepare.add_argument(
        "--volume", help="catalog.schema.volume where the prepared rows are staged as Parquet for --table"
    )

    train = commands.add_parser("train", help="train the churn model; one MLflow run")
    data_source(train)
    train.add_argument("--table", help="train from this prepared table instead of fresh synthetic data")
    train.add_argument("--experiment", required=True, help="experiment name, e.g. /Shared/churn")
    train.add_argument("--regularization", type=float, default=1.0)
    train.add_argument("--max-iter", type=int, default=200)
    train.add_argument("--features", help="comma-separated subset of the features (default: all)")
    train.add_argument("--register-as", help="also register the model as this catalog.schema.model")
    train.add_argument("--promote", action="store_true", help="with --register-as: also run promotion")

    register = commands.add_parser("register", help="a new version of a model from a logged model")
    register.add_argument("--model-name", required=True, help="catalog.schema.model")
    register.add_argument("--model-uri", required=True, help="models:/m-... or runs:/<run id>/model")
    register.add_argument(
        "--code-dir", help="checkout whose git commit/branch tag the version (default: this)"
    )

    promote = commands.add_parser("promote", help="challenger alias; champion if it beats the champion")
    promote.add_argument("--model-name", required=True)
    promote.add_argument("--version", required=True)
    promote.add_argument("--metric", default="roc_auc")
    return parser


def _customers(args: argparse.Namespace):
    from server.pipeline import data

    if getattr(args, "table", None) and args.command == "train":
        from databricks.sdk import WorkspaceClient

        from server.pipeline import tables

        return tables.read_customers(WorkspaceClient(), _warehouse(args), args.table), None
    return data.prepare(args.rows, args.seed, args.test_fraction)


def _warehouse(args: argparse.Namespace) -> str:
    if not args.warehouse_id:
        raise SystemExit("--warehouse-id is required with --table")
    return args.warehouse_id


def run(argv: Sequence[str] | None = None, settings: Settings | None = None) -> dict:
    """Runs one command and returns what it prints."""
    from dataclasses import asdict

    args = _parser().parse_args(argv)
    settings = settings or Settings()
    if args.command == "prepare":
        from server.pipeline import data

        customers, report = _customers(args)
        out = {**asdict(report), "fingerprint": data.fingerprint(customers)}
        if args.table:
            from databricks.sdk import WorkspaceClient

            from server.pipeline import tables

            tables.quote_name(args.table)
            if not args.volume:
                raise SystemExit("--volume is required with --table")
            w = WorkspaceClient()
            tables.write_customers(w, _warehouse(args), args.table, customers, args.volume)
            out |= {"table": args.table, "table_rows": tables.validate_table(w, _warehouse(args), args.table)}
        return out
    if args.command == "train":
        from server.pipeline import registry, training

        customers, _ = _customers(args)
        features = tuple(f.strip() for f in args.features.split(",")) if args.features else None
        params = training.TrainingParams(
            regularization=args.regularization,
            max_iter=args.max_iter,
            **({"features": features} if features else {}),
        )
        out = training.describe(training.train(settings, args.experiment, customers, params))
        if args.register_as:
            out["version"] = registry.register(settings, args.register_as, out["model_uri"])
            if args.promote:
                out["promotion"] = registry.describe(
                    registry.promote(settings, args.register_as, out["version"])
                )
        return out
    if args.command == "register":
        from server.pipeline import registry

        code_dir = Path(args.code_dir) if args.code_dir else registry.REPO
        version = registry.register(settings, args.model_name, args.model_uri, code_dir)
        return {"model_name": args.model_name, "version": version}
    from server.pipeline import registry

    return registry.describe(registry.promote(settings, args.model_name, args.version, args.metric))


def main(argv: Sequence[str] | None = None) -> int:
    from server.pipeline.data import DataValidationError
    from server.pipeline.tables import StatementError

    try:
        print(json.dumps(run(argv), indent=2, default=str))
    except (DataValidationError, StatementError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
