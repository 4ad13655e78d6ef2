"""`dag.test()` of twin_import: an uploaded export is imported, cleaned, chunked and embedded; its
archive is deleted; a damaged archive fails at once with the reason and is kept."""

import random
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.webapp.sources.test_services import export_zip
from twin.core.settings import get_settings
from twin.core.tables import chunk_embeddings, crawl_runs, documents
from twin.core.uploads import archive_path, new_archive_name

pytestmark = pytest.mark.slow
DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture
def import_dag(airflow_metadata):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS)).dags["twin_import"]


def _stored(user_id: int, data: bytes) -> Path:
    path = archive_path(get_settings(), user_id, new_archive_name())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _states(run) -> dict:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def test_an_upload_is_imported_built_and_embedded_and_its_archive_deleted(engine, import_dag):
    user_id = random.randint(10**9, 2 * 10**9)
    archive = _stored(user_id, export_zip("medium"))
    run = import_dag.test(run_conf={"upload_id": 41, "user_id": user_id, "kind": "medium", "archive": archive.name})
    assert _states(run) == {"import_upload": "success", "build_marts": "success", "embed_new_chunks": "success"}
    assert not archive.exists()
    with engine.connect() as conn:
        stored = conn.execute(
            sa.select(sa.func.count()).select_from(documents).where(documents.c.user_id == user_id)
        ).scalar()
        chunks = conn.execute(sa.text("select count(*) from marts.chunks where user_id = :u"), {"u": user_id}).scalar()
        vectors = conn.execute(
            sa.select(sa.func.count()).select_from(chunk_embeddings).where(chunk_embeddings.c.user_id == user_id)
        ).scalar()
        source = conn.execute(
            sa.select(crawl_runs.c.source, crawl_runs.c.status).where(crawl_runs.c.user_id == user_id)
        ).one()
    assert stored >= 2 and chunks >= stored and vectors == chunks
    assert tuple(source) == ("medium-export:upload-41", "succeeded")


def test_a_damaged_archive_fails_without_retries_and_is_kept(engine, import_dag):
    user_id = random.randint(10**9, 2 * 10**9)
    archive = _stored(user_id, b"PK\x03\x04" + b"damaged" * 50)
    run = import_dag.test(run_conf={"upload_id": 42, "user_id": user_id, "kind": "linkedin", "archive": archive.name})
    states = _states(run)
    assert states["import_upload"] == "failed" and states["build_marts"] == "upstream_failed"
    ti = next(ti for ti in run.get_task_instances() if ti.task_id == "import_upload")
    assert ti.try_number == 1, "an archive that cannot be imported is not retried"
    assert archive.exists()
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(crawl_runs.c.status, crawl_runs.c.errors).where(crawl_runs.c.user_id == user_id)
        ).one()
    assert row.status == "failed" and "download the export again" in str(row.errors).lower()
    shutil.rmtree(archive.parent)


def test_a_run_cannot_point_the_importer_at_another_file(import_dag):
    with pytest.raises(Exception, match="does not match"):
        import_dag.test(run_conf={"upload_id": 43, "user_id": 1, "kind": "medium", "archive": "../../secrets.env"})
