import pytest
import sqlalchemy as sa

from twin.core.vocabulary import PLATFORMS, detect_platform, document_id, split_bucket, without_tracking


@pytest.mark.parametrize(
    ("source", "platform"),
    [
        ("@maya", "medium"),
        ("https://maya.medium.com/feed", "medium"),
        ("maya.substack.com", "substack"),
        ("https://github.com/maya/repo", "github"),
        ("https://www.linkedin.com/posts/maya_1", "linkedin"),
        ("https://lnkd.in/abc", "linkedin"),
        ("https://notmedium.com/a", "web"),
        ("https://example.org/post", "web"),
    ],
)
def test_detect_platform(source, platform):
    assert detect_platform(source) == platform
    assert platform in PLATFORMS


def test_without_tracking_drops_every_tracking_parameter_and_the_fragment():
    url = "https://www.linkedin.com/posts/x?trackingId=abc&utm_medium=social&page=2&SK=1&trk=feed#comments"
    assert without_tracking(url) == "https://www.linkedin.com/posts/x?page=2"


def test_document_id_and_split_bucket_match_what_dbt_computes(db_conn):
    """The Python copies of marts.documents.document_id and marts.sft_samples.split_bucket."""
    url = "https://example.org/a post?x=1"
    row = db_conn.execute(
        sa.text(
            "select md5(cast(:user_id as text) || '|' || :url) as document_id,"
            " (get_byte(decode(md5(md5(cast(:user_id as text) || '|' || :url)), 'hex'), 0) * 256"
            " + get_byte(decode(md5(md5(cast(:user_id as text) || '|' || :url)), 'hex'), 1)) % 100 as bucket"
        ),
        {"user_id": 42, "url": url},
    ).one()
    assert document_id(42, url) == row.document_id
    assert split_bucket(row.document_id) == row.bucket


def test_every_spelling_of_the_platforms_agrees_with_the_vocabulary():
    """Python reads twin.core.vocabulary; what cannot import it (Django choices with their labels, the
    import DAG's params, dbt's accepted_values, the first migration's check constraint) must say the same."""
    import re
    from pathlib import Path

    from crawlers.importers import EXPORT_FORMATS
    from twin.core.settings import PROJECT_ROOT
    from twin.core.vocabulary import EXPORT_PLATFORMS
    from webapp.sources.models import Source, Upload

    assert tuple(Source.Platform.values) == PLATFORMS
    assert tuple(Upload.Kind.values) == EXPORT_PLATFORMS == tuple(EXPORT_FORMATS)
    import_dag = (PROJECT_ROOT / "dags/twin_import.py").read_text()  # DAG files import nothing of ours at parse time
    assert tuple(
        re.findall(r'"(\w+)"', re.search(r'"kind": Param\(type="string", enum=\[([^\]]*)\]', import_dag)[1])
    ) == (EXPORT_PLATFORMS)
    migration = (PROJECT_ROOT / "twin/core/migrations/versions/0001_initial.py").read_text()
    assert re.findall(r"'(\w+)'", re.search(r'PLATFORMS = "platform in \(([^)]*)\)"', migration)[1]) == list(PLATFORMS)
    dbt_lists = []
    for path in Path(PROJECT_ROOT / "dbt/models").rglob("*.yml"):
        for match in re.finditer(r"values: \[([^\]]*)\]", path.read_text()):
            values = [value.strip() for value in match[1].split(",")]
            if "linkedin" in values:
                dbt_lists.append((path.name, values))
    assert dbt_lists, "dbt's accepted_values for platform were not found"
    for name, values in dbt_lists:
        assert tuple(values) == PLATFORMS, name
