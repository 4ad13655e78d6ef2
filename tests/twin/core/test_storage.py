"""twin.core.storage: TWIN_STORAGE_URI as a plain path or a URI read through pyarrow (file:// here
takes the same code path as s3:// or gs://)."""

from __future__ import annotations

import pytest

from twin.core import storage


@pytest.fixture
def settings(tmp_path):
    from twin.core.settings import get_settings

    return get_settings().model_copy(update={"home": tmp_path / "home", "storage_uri": None})


def _adapter(folder):
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text('{"r": 16}')
    (folder / "weights").mkdir()
    (folder / "weights" / "part-0.bin").write_bytes(b"\x00\x01" * 1000)
    return folder


def test_unset_means_twin_home_and_nothing_is_copied(settings):
    location = storage.location_for(settings, "adapters", "7", "m1")
    assert location == str(settings.home / "adapters" / "7" / "m1")
    source = _adapter(settings.home / "adapters" / "7" / "m1")
    assert storage.upload_dir(source, location) == location  # the same folder: left as it is
    assert storage.local_copy(location, settings) == source
    assert storage.exists(location) and not storage.exists(location + "-other")


@pytest.mark.parametrize("form", ["uri", "path"])
def test_a_shared_location_round_trips_a_directory(settings, tmp_path, form):
    shared = tmp_path / "shared"
    settings = settings.model_copy(update={"storage_uri": f"file://{shared}/" if form == "uri" else str(shared)})
    assert storage.root(settings) == (f"file://{shared}" if form == "uri" else str(shared))
    source = _adapter(tmp_path / "scratch" / "adapter")

    location = storage.upload_dir(source, storage.location_for(settings, "adapters", "7", "m1"))
    assert location.endswith("/adapters/7/m1") and storage.exists(location)
    assert (shared / "adapters" / "7" / "m1" / "weights" / "part-0.bin").read_bytes() == b"\x00\x01" * 1000

    fetched = storage.local_copy(location, settings)
    if form == "uri":  # fetched once into the cache, as a replica on another node does
        assert fetched.parent == settings.home / "cache" / "storage"
        assert storage.local_copy(location, settings) == fetched
    assert (fetched / "adapter_config.json").read_text() == '{"r": 16}'
    assert (fetched / "weights" / "part-0.bin").stat().st_size == 2000

    (source / "adapter_config.json").write_text('{"r": 8}')
    storage.upload_dir(source, location)  # written again: replaced, not merged
    assert (shared / "adapters" / "7" / "m1" / "adapter_config.json").read_text() == '{"r": 8}'
    storage.remove(location)
    assert not storage.exists(location)
    storage.remove(location)  # already gone: no error


def test_missing_and_unreadable_locations_say_where(settings, tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing stored at"):
        storage.local_copy(f"file://{tmp_path}/nowhere", settings)
    with pytest.raises(storage.StorageError, match="cannot open storage nosuch://bucket"):
        storage.local_copy("nosuch://bucket/adapter", settings)
    with pytest.raises(storage.StorageError, match="is not a directory"):
        storage.upload_dir(tmp_path / "absent", f"file://{tmp_path}/x")
    assert isinstance(storage.StorageError("x"), OSError)  # serving falls back to the base model on OSError


def test_join_keeps_uris_and_paths_apart():
    assert storage.join("s3://bucket/twin/", "adapters", "/7/") == "s3://bucket/twin/adapters/7"
    assert storage.join("/data/twin", "adapters", "7") == "/data/twin/adapters/7"
    assert storage.has_scheme("gs://b/x") and storage.has_scheme("file:///x")
    assert not storage.has_scheme("/data/twin") and not storage.has_scheme("C:/twin")
