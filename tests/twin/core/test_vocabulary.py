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
