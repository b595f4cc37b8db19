"""Unity Catalog volumes and the Files API in the fake, judged by the real SDK (``w.volumes``, ``w.files``).

Sources: the SDK's VolumesAPI/VolumeInfo/VolumeType (service/catalog.py), FilesAPI (service/files.py) and
FilesExt (mixins/files.py: multipart uploads and presigned downloads above 50 MiB); volume privileges from
https://docs.databricks.com/aws/en/volumes/privileges; error wordings observed from Databricks and named
beside each behaviour in ``fixtures/workspace/files/routes.py``.
"""

from __future__ import annotations

import io
import os
import uuid

import httpx
import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import AlreadyExists, BadRequest, NotFound, PermissionDenied, ResourceConflict
from databricks.sdk.service.catalog import PermissionsChange, Privilege, VolumeType


def raw(fake, token: str, method: str, path: str, **kwargs) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    return httpx.request(method, f"{fake.host}{path}", headers=headers, **kwargs)


@pytest.fixture(scope="module")
def volume(admin) -> str:
    """A managed volume; returns its path, /Volumes/<catalog>/<schema>/<volume>."""
    w, _ = admin
    catalog = f"files_{uuid.uuid4().hex[:6]}"
    w.catalogs.create(catalog)
    w.schemas.create("landing", catalog)
    created = w.volumes.create(catalog, "landing", "Raw", VolumeType.MANAGED, comment="Raw files")
    assert created.name == "raw"  # UC keeps names in lower case
    return f"/Volumes/{catalog}/landing/raw"


def test_volume_survives_sdk_parsing_and_lists_only_to_readers(fake, admin, volume) -> None:
    w, token = admin
    _, _, catalog, schema, name = volume.split("/")
    full_name = f"{catalog}.{schema}.{name}"
    parsed = w.volumes.read(full_name)
    assert parsed.as_dict() == raw(fake, token, "GET", f"/api/2.1/unity-catalog/volumes/{full_name}").json()
    assert parsed.volume_type == VolumeType.MANAGED and parsed.storage_location and parsed.volume_id
    assert parsed.owner == w.current_user.me().user_name and parsed.comment == "Raw files"
    assert [v.full_name for v in w.volumes.list(catalog, schema)] == [full_name]
    with pytest.raises(BadRequest, match="storage_location"):
        w.volumes.create(catalog, schema, "other", VolumeType.MANAGED, storage_location="s3://b/p")
    with pytest.raises(ResourceConflict):
        w.volumes.create(catalog, schema, "raw", VolumeType.MANAGED)
    user = fake.control.create_user(f"vol.{uuid.uuid4().hex[:6]}@example.com", "Vol Reader", [])
    reader = WorkspaceClient(host=fake.host, token=user["token"], auth_type="pat")
    w.grants.update("catalog", catalog, changes=[
        PermissionsChange(add=[Privilege.USE_CATALOG, Privilege.USE_SCHEMA], principal=user["user_name"])
    ])  # fmt: skip
    assert list(reader.volumes.list(catalog, schema)) == []
    with pytest.raises(PermissionDenied, match="READ VOLUME"):
        reader.volumes.read(full_name)
    w.grants.update("volume", full_name, changes=[
        PermissionsChange(add=[Privilege.READ_VOLUME], principal=user["user_name"])
    ])  # fmt: skip
    assert reader.volumes.read(full_name).name == "raw"


def test_files_round_trip_with_metadata_listing_and_deletes(fake, admin, volume) -> None:
    w, token = admin
    w.files.upload(f"{volume}/a/b/data.csv", io.BytesIO(b"id,x\n1,2\n"), overwrite=False)
    downloaded = w.files.download(f"{volume}/a/b/data.csv")
    assert downloaded.contents.read() == b"id,x\n1,2\n" and downloaded.content_length == 9
    metadata = w.files.get_metadata(f"{volume}/a/b/data.csv")
    assert metadata.content_length == 9 and metadata.content_type == "application/octet-stream"
    assert metadata.last_modified.endswith("GMT")
    with pytest.raises(ResourceConflict, match="already exists"):
        w.files.upload(f"{volume}/a/b/data.csv", io.BytesIO(b"again"), overwrite=False)
    w.files.upload(f"{volume}/a/b/data.csv", io.BytesIO(b"id,x\n3,4\n"))  # overwrite by default
    ranged = raw(fake, token, "GET", f"/api/2.0/fs/files{volume}/a/b/data.csv", headers={"Range": "bytes=5-"})
    assert ranged.status_code == 206 and ranged.content == b"3,4\n"

    w.files.create_directory(f"{volume}/a/empty")
    entries = {e.name: e for e in w.files.list_directory_contents(f"{volume}/a")}
    assert set(entries) == {"b", "empty"} and entries["b"].is_directory
    assert entries["b"].path == f"{volume}/a/b"
    [file] = w.files.list_directory_contents(f"{volume}/a/b")
    assert (file.name, file.is_directory, file.file_size) == ("data.csv", False, 9)
    assert file.last_modified > 0
    w.files.get_directory_metadata(f"{volume}/a/empty")

    with pytest.raises(AlreadyExists, match="existing file"):
        w.files.create_directory(f"{volume}/a/b/data.csv")
    with pytest.raises(BadRequest) as not_empty:
        w.files.delete_directory(f"{volume}/a/b")
    assert [i.reason for i in not_empty.value.get_error_info()] == ["FILES_API_DIRECTORY_IS_NOT_EMPTY"]
    w.files.delete(f"{volume}/a/b/data.csv")
    w.files.delete_directory(f"{volume}/a/b")
    with pytest.raises(NotFound, match="The file being accessed is not found"):
        w.files.download(f"{volume}/a/b/data.csv")
    with pytest.raises(NotFound, match="The directory being accessed is not found"):
        list(w.files.list_directory_contents(f"{volume}/a/b"))
    with pytest.raises(NotFound):
        w.files.delete(f"{volume}/a/b/data.csv")


def test_listing_pages_and_bad_paths(fake, admin, volume) -> None:
    w, token = admin
    for i in range(5):
        w.files.upload(f"{volume}/paged/f{i}.txt", io.BytesIO(b"x"))
    first = raw(fake, token, "GET", f"/api/2.0/fs/directories{volume}/paged", params={"page_size": 2}).json()
    assert [e["name"] for e in first["contents"]] == ["f0.txt", "f1.txt"] and first["next_page_token"]
    names = [e.name for e in w.files.list_directory_contents(f"{volume}/paged", page_size=2)]
    assert names == [f"f{i}.txt" for i in range(5)]
    w.files.create_directory(f"{volume}/paged/empty")
    assert raw(fake, token, "GET", f"/api/2.0/fs/directories{volume}/paged/empty").json() == {}
    for path, message in [
        ("/Volume/x/y/z/f", "unsupported first path component: Volume"),
        ("/Volumes/x", "Path is missing a schema name"),
        ("/Volumes/x/y", "Path is missing a volume name"),
    ]:
        with pytest.raises(BadRequest, match=message):
            w.files.upload(path, io.BytesIO(b"x"))
    # Clients resolve ".." before sending; an escaped one must not leave the volume either.
    escape = raw(fake, token, "PUT", f"/api/2.0/fs/files{volume}/%2E%2E/escape", content=b"x")
    assert escape.status_code == 400 and escape.json()["message"].startswith("Invalid path")


def test_volume_privileges_decide_who_reads_and_writes_files(fake, admin, volume) -> None:
    w, _ = admin
    _, _, catalog, schema, name = volume.split("/")
    full_name = f"{catalog}.{schema}.{name}"
    w.files.upload(f"{volume}/shared/report.txt", io.BytesIO(b"numbers"))
    user = fake.control.create_user(f"files.{uuid.uuid4().hex[:6]}@example.com", "Files User", [])
    ana = WorkspaceClient(host=fake.host, token=user["token"], auth_type="pat")
    with pytest.raises(PermissionDenied, match="USE CATALOG"):
        ana.files.download(f"{volume}/shared/report.txt")
    w.grants.update("schema", f"{catalog}.{schema}", changes=[
        PermissionsChange(add=[Privilege.READ_VOLUME], principal=user["user_name"])
    ])  # fmt: skip
    w.grants.update("catalog", catalog, changes=[
        PermissionsChange(add=[Privilege.USE_CATALOG, Privilege.USE_SCHEMA], principal=user["user_name"])
    ])  # fmt: skip
    assert ana.files.download(f"{volume}/shared/report.txt").contents.read() == b"numbers"
    with pytest.raises(PermissionDenied, match=f"WRITE VOLUME on Volume '{full_name}'"):
        ana.files.upload(f"{volume}/shared/mine.txt", io.BytesIO(b"mine"))
    with pytest.raises(PermissionDenied, match="WRITE VOLUME"):
        ana.files.delete(f"{volume}/shared/report.txt")
    w.grants.update("volume", full_name, changes=[
        PermissionsChange(add=[Privilege.WRITE_VOLUME], principal=user["user_name"])
    ])  # fmt: skip
    ana.files.upload(f"{volume}/shared/mine.txt", io.BytesIO(b"mine"))
    assert w.files.download(f"{volume}/shared/mine.txt").contents.read() == b"mine"


def test_large_files_go_through_multipart_upload_and_presigned_download(fake, admin, volume) -> None:
    """Above 50 MiB the SDK uploads parts to presigned URLs and downloads from one (FilesExt)."""
    w, token = admin
    payload = os.urandom(51 * 1024 * 1024)
    w.files.upload(f"{volume}/big/blob.bin", io.BytesIO(payload), part_size=10 * 1024 * 1024)
    assert w.files.get_metadata(f"{volume}/big/blob.bin").content_length == len(payload)
    assert w.files.download(f"{volume}/big/blob.bin").contents.read() == payload
    with pytest.raises(ResourceConflict):
        w.files.upload(f"{volume}/big/blob.bin", io.BytesIO(payload), overwrite=False)
    past = {"path": f"{volume}/big/blob.bin", "expire_time": "2000-01-01T00:00:00Z"}
    link = raw(fake, token, "POST", "/api/2.0/fs/create-download-url", params=past).json()
    expired = httpx.get(link["url"])  # a presigned URL carries no workspace credentials
    assert expired.status_code == 403 and b"Request has expired" in expired.content
    tampered = httpx.get(link["url"].replace("signature=", "signature=0"))
    assert tampered.status_code == 403


def test_dropping_a_volume_drops_its_files(fake, admin, volume) -> None:
    w, _ = admin
    _, _, catalog, schema, _ = volume.split("/")
    w.volumes.create(catalog, schema, "scratch", VolumeType.MANAGED)
    w.files.upload(f"/Volumes/{catalog}/{schema}/scratch/f.txt", io.BytesIO(b"x"))
    w.volumes.delete(f"{catalog}.{schema}.scratch")
    with pytest.raises(NotFound):
        w.files.download(f"/Volumes/{catalog}/{schema}/scratch/f.txt")
    w.volumes.create(catalog, schema, "scratch", VolumeType.MANAGED)
    assert list(w.files.list_directory_contents(f"/Volumes/{catalog}/{schema}/scratch")) == []
    w.volumes.delete(f"{catalog}.{schema}.scratch")  # the module's other tests see only their volume
