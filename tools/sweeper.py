"""Lists (and with ``--delete`` removes) what acceptance runs left in a workspace.

    python -m tools.sweeper                 # dry run: prefixed objects whose RemoveAfter has passed
    python -m tools.sweeper --delete        # remove them
    python -m tools.sweeper --any-age --fail-if-found   # CI, after a run: nothing of ours may be left

Objects are ours when their name starts with ``acc_`` (``fixtures/drivers/factories.py``). Expired means
its ``RemoveAfter`` tag or property has passed; objects that take no tags count from their creation time
plus one hour; objects with neither count as expired. Connects with Databricks unified auth (the admin
profile), through databricks-sdk only. A kind whose API the workspace does not serve (404 without an
error code, or ``ENDPOINT_NOT_FOUND``) is reported; with ``--fail-if-found`` it fails the sweep, since
what the sweeper cannot list it cannot vouch for.

Kinds: serving endpoints (tags), MLflow experiments (tags), registered models in Unity Catalog (creation
time: the SDK's RegisteredModelInfo carries no tags), volumes in any schema (creation time: volumes take
no tags), tables in any catalog (properties), schemas in any catalog (properties), catalogs (properties;
dropped with their contents). Anything inside one of our catalogs or schemas goes with it. A new kind is
one ``Kind`` subclass added to ``KINDS``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import DatabricksError, NotFound, PermissionDenied

from fixtures.drivers.factories import LIFETIME, PREFIX, REMOVE_AFTER, parse_remove_after


@dataclass(frozen=True)
class Leftover:
    kind: str
    name: str
    key: str  # what delete() needs (full name, id)
    expires: dt.datetime | None

    def expired(self, now: dt.datetime) -> bool:
        return self.expires is None or self.expires <= now


def _expiry(tags: dict[str, str] | None, created_ms: int | None = None) -> dt.datetime | None:
    value = (tags or {}).get(REMOVE_AFTER)
    if value:
        return parse_remove_after(value)
    if created_ms:
        return dt.datetime.fromtimestamp(created_ms / 1000, dt.UTC) + LIFETIME
    return None


def _ours(name: str | None, prefix: str) -> bool:
    return bool(name) and name.rsplit("/", 1)[-1].startswith(prefix)


class Kind:
    name = "object"

    def find(self, w: WorkspaceClient, prefix: str) -> Iterator[Leftover]:
        raise NotImplementedError

    def delete(self, w: WorkspaceClient, leftover: Leftover) -> None:
        raise NotImplementedError


class Catalogs(Kind):
    name = "catalog"

    def find(self, w: WorkspaceClient, prefix: str) -> Iterator[Leftover]:
        for catalog in w.catalogs.list():
            if _ours(catalog.name, prefix):
                yield Leftover(self.name, catalog.name or "", catalog.name or "", _expiry(catalog.properties))

    def delete(self, w: WorkspaceClient, leftover: Leftover) -> None:
        w.catalogs.delete(leftover.key, force=True)


def _other_catalogs(w: WorkspaceClient, prefix: str) -> Iterator[str]:
    """Catalogs not ours (ours go whole, with what is inside); catalogs we may not read are passed over."""
    for catalog in w.catalogs.list():
        if catalog.name and not _ours(catalog.name, prefix):
            yield catalog.name


class Schemas(Kind):
    name = "schema"

    def find(self, w: WorkspaceClient, prefix: str) -> Iterator[Leftover]:
        for catalog in _other_catalogs(w, prefix):
            try:
                schemas = list(w.schemas.list(catalog_name=catalog))
            except (PermissionDenied, NotFound):
                continue
            for schema in schemas:
                if _ours(schema.name, prefix):
                    full = schema.full_name or f"{catalog}.{schema.name}"
                    yield Leftover(self.name, full, full, _expiry(schema.properties))

    def delete(self, w: WorkspaceClient, leftover: Leftover) -> None:
        w.schemas.delete(leftover.key, force=True)


def _other_schemas(w: WorkspaceClient, prefix: str) -> Iterator[tuple[str, str]]:
    """(catalog, schema) of every schema not ours in a catalog not ours; unreadable ones are passed over."""
    for catalog in _other_catalogs(w, prefix):
        try:
            schemas = list(w.schemas.list(catalog_name=catalog))
        except (PermissionDenied, NotFound):
            continue
        for schema in schemas:
            if schema.name and not _ours(schema.name, prefix):
                yield catalog, schema.name


class Volumes(Kind):
    name = "volume"

    def find(self, w: WorkspaceClient, prefix: str) -> Iterator[Leftover]:
        for catalog, schema in _other_schemas(w, prefix):
            try:
                volumes = list(w.volumes.list(catalog_name=catalog, schema_name=schema))
            except PermissionDenied:
                continue
            except NotFound as error:
                if _not_served(error):
                    raise  # the workspace has no volumes API: say so, once, for the kind
                continue  # the schema went meanwhile
            for volume in volumes:
                if _ours(volume.name, prefix):
                    full = volume.full_name or f"{catalog}.{schema}.{volume.name}"
                    yield Leftover(self.name, full, full, _expiry(None, volume.created_at))

    def delete(self, w: WorkspaceClient, leftover: Leftover) -> None:
        w.volumes.delete(leftover.key)


class Tables(Kind):
    name = "table"

    def find(self, w: WorkspaceClient, prefix: str) -> Iterator[Leftover]:
        pattern = prefix.replace("_", "\\_") + "%"
        for catalog in _other_catalogs(w, prefix):
            try:
                summaries = list(w.tables.list_summaries(catalog, table_name_pattern=pattern))
            except (PermissionDenied, NotFound):
                continue
            for summary in summaries:
                full = summary.full_name or ""
                schema = full.split(".")[1] if full.count(".") == 2 else ""
                if not _ours(full.rsplit(".", 1)[-1], prefix) or _ours(schema, prefix):
                    continue  # tables in our schemas go with their schema
                table = w.tables.get(full)
                yield Leftover(self.name, full, full, _expiry(table.properties, table.created_at))

    def delete(self, w: WorkspaceClient, leftover: Leftover) -> None:
        w.tables.delete(leftover.key)


class RegisteredModels(Kind):
    name = "registered model"

    def find(self, w: WorkspaceClient, prefix: str) -> Iterator[Leftover]:
        for model in w.registered_models.list():
            full = model.full_name or ""
            parts = full.split(".")
            if _ours(parts[-1], prefix) and not any(_ours(p, prefix) for p in parts[:-1]):
                yield Leftover(self.name, full, full, _expiry(None, model.created_at))

    def delete(self, w: WorkspaceClient, leftover: Leftover) -> None:
        w.registered_models.delete(leftover.key)


class Experiments(Kind):
    name = "experiment"

    def find(self, w: WorkspaceClient, prefix: str) -> Iterator[Leftover]:
        for experiment in w.experiments.search_experiments(filter=f"name LIKE '%{prefix}%'"):
            if _ours(experiment.name, prefix):
                tags = {t.key: t.value for t in (experiment.tags or []) if t.key and t.value}
                expires = _expiry(tags, experiment.creation_time)
                yield Leftover(self.name, experiment.name or "", experiment.experiment_id or "", expires)

    def delete(self, w: WorkspaceClient, leftover: Leftover) -> None:
        w.experiments.delete_experiment(leftover.key)


class ServingEndpoints(Kind):
    name = "serving endpoint"

    def find(self, w: WorkspaceClient, prefix: str) -> Iterator[Leftover]:
        for endpoint in w.serving_endpoints.list():
            if _ours(endpoint.name, prefix):
                tags = {t.key: t.value for t in (endpoint.tags or []) if t.key and t.value}
                expires = _expiry(tags, endpoint.creation_timestamp)
                yield Leftover(self.name, endpoint.name or "", endpoint.name or "", expires)

    def delete(self, w: WorkspaceClient, leftover: Leftover) -> None:
        w.serving_endpoints.delete(leftover.key)


# Billing first; containers last, so what is inside someone else's container goes before its container.
KINDS: list[Kind] = [
    ServingEndpoints(),
    Experiments(),
    RegisteredModels(),
    Volumes(),
    Tables(),
    Schemas(),
    Catalogs(),
]


def _not_served(error: Exception) -> bool:
    """The workspace has no such API, as opposed to a missing object (whose code says what is missing).

    Databricks answers an unknown path 404 ``ENDPOINT_NOT_FOUND`` (fixtures/workspace/errors.py); the fake
    answers a call it does not serve 501 ``NOT_IMPLEMENTED`` (PRODUCT.md 10.3); a web server without the
    route answers a bare 404 (``{"detail": "Not Found"}``, read by the SDK as a SCIM error, ``SCIM_None``).
    A missing object's code is ``RESOURCE_DOES_NOT_EXIST``, ``SCHEMA_DOES_NOT_EXIST``, ``NOT_FOUND``...
    """
    code = getattr(error, "error_code", None) or ""
    if code in ("ENDPOINT_NOT_FOUND", "NOT_IMPLEMENTED"):
        return True
    return isinstance(error, NotFound) and not code.endswith(("DOES_NOT_EXIST", "NOT_FOUND"))


@dataclass
class Sweep:
    found: list[Leftover] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    not_served: list[str] = field(default_factory=list)  # kinds the workspace has no API for


def sweep(
    w: WorkspaceClient, prefix: str, delete: bool, any_age: bool, kinds: Iterable[Kind] | None = None
) -> Sweep:
    """What was found (deleted when ``delete``), the problems, and the kinds the workspace does not serve."""
    now = dt.datetime.now(dt.UTC)
    result = Sweep()
    for kind in KINDS if kinds is None else kinds:
        try:
            leftovers = [item for item in kind.find(w, prefix) if any_age or item.expired(now)]
        except DatabricksError as error:
            if _not_served(error):
                print(f"  {kind.name}s: NOT SERVED by this workspace ({error}): not swept")
                result.not_served.append(kind.name)
                continue
            result.problems.append(f"listing {kind.name}s: {error}")
            continue
        for item in leftovers:
            until = item.expires.strftime("%Y-%m-%d %H:%M UTC") if item.expires else "unknown"
            print(f"  {item.kind}: {item.name} (RemoveAfter {until})")
            result.found.append(item)
            if delete:
                try:
                    kind.delete(w, item)
                    print("    deleted")
                except DatabricksError as error:
                    result.problems.append(f"deleting {item.kind} {item.name}: {error}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--delete", action="store_true", help="delete what is found (default: dry run)")
    parser.add_argument("--prefix", default=PREFIX, help=f"name prefix of test objects (default {PREFIX})")
    parser.add_argument("--any-age", action="store_true", help="include objects whose RemoveAfter is ahead")
    parser.add_argument("--fail-if-found", action="store_true", help="exit 1 when anything is found")
    parser.add_argument("--profile", help="Databricks config profile (default: unified auth's default)")
    args = parser.parse_args(argv)
    workspace: Any = WorkspaceClient(profile=args.profile) if args.profile else WorkspaceClient()
    mode = "deleting" if args.delete else "dry run"
    age = "any age" if args.any_age else "RemoveAfter passed"
    print(f"sweeper ({mode}): objects named {args.prefix}* ({age}) in {workspace.config.host}")
    result = sweep(workspace, args.prefix, args.delete, args.any_age)
    for problem in result.problems:
        print(f"  problem: {problem}", file=sys.stderr)
    print(f"sweeper: {len(result.found)} found" + (", deleted" if args.delete and result.found else ""))
    if result.not_served:
        print(f"sweeper: not served, so not checked: {', '.join(result.not_served)}", file=sys.stderr)
    if result.problems or (args.fail_if_found and (result.found or result.not_served)):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
