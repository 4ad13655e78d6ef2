"""Dataset export: versioned snapshots of one user's SFT samples, split by document."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from testing.corpus import POSTS, sft_rows
from training.dataset import DatasetError, fetch_sft_rows, load_snapshot, prepare_dataset


def test_snapshot_is_content_addressed_and_complete(tmp_path, user_id, corpus_rows):
    snapshot = prepare_dataset(user_id, tmp_path, rows=corpus_rows)
    assert snapshot.path == tmp_path / "datasets" / str(user_id) / snapshot.snapshot_id
    assert len(snapshot.train) + len(snapshot.validation) == len(POSTS)
    manifest = json.loads((snapshot.path / "manifest.json").read_text())
    assert manifest["snapshot_id"] == snapshot.snapshot_id and manifest["user_id"] == user_id
    assert manifest["files"]["train.jsonl"]["rows"] == len(snapshot.train)
    line = json.loads((snapshot.path / "train.jsonl").read_text().splitlines()[0])
    assert line["prompt"].startswith("Write a LinkedIn post in my voice about: ") and line["system"]
    assert "Write a LinkedIn post about" not in line["prompt"]  # the request, as a user types it

    again = prepare_dataset(user_id, tmp_path, rows=list(reversed(corpus_rows)))
    assert again.snapshot_id == snapshot.snapshot_id
    assert load_snapshot(snapshot.path) == snapshot

    changed = [dict(row) for row in corpus_rows]
    changed[0]["response"] += "\n\n#OneMore"
    assert prepare_dataset(user_id, tmp_path, rows=changed).snapshot_id != snapshot.snapshot_id


def test_no_document_straddles_the_split(tmp_path, user_id, corpus_rows):
    leaked = corpus_rows + [
        {
            **corpus_rows[0],
            "sample_id": "extra",
            "split": "validation" if corpus_rows[0]["split"] == "train" else "train",
        }
    ]
    snapshot = prepare_dataset(user_id, tmp_path, rows=leaked)
    assert not {s.document_id for s in snapshot.train} & {s.document_id for s in snapshot.validation}


def test_a_cross_posted_article_is_one_document_for_the_split(tmp_path, user_id, corpus_rows):
    article = corpus_rows[0]
    other_split = "validation" if article["split"] == "train" else "train"
    # the same text on another platform, lightly edited, with its own document id and the other split
    repost = {
        **article,
        "sample_id": "repost",
        "document_id": "repost-doc",
        "split": other_split,
        "response": article["response"].replace(".", "!", 1) + "\n\nFirst published on my blog.",
    }
    snapshot = prepare_dataset(user_id, tmp_path, rows=corpus_rows + [repost])
    split_of = {s.document_id: s.split for s in snapshot.train + snapshot.validation}
    assert split_of["repost-doc"] == split_of[article["document_id"]]


def test_training_samples_are_bounded_and_spread_over_documents(tmp_path, user_id, corpus_rows):
    snapshot = prepare_dataset(user_id, tmp_path, rows=corpus_rows, max_train=5)
    assert len(snapshot.train) == 5 and len({s.document_id for s in snapshot.train}) == 5
    assert len(snapshot.validation) == sum(row["split"] == "validation" for row in corpus_rows)


def test_context_comes_from_other_documents_only(tmp_path, user_id, corpus_rows):
    from twin.core.prompting import OWN_HEADING, ContextItem

    passages = [
        ContextItem(
            origin="retrieval",
            key=f"c{row['document_id']}",
            text=row["response"],
            url=f"https://x/{i}",
            title=f"Post {i}",
            document_id=row["document_id"],
        )
        for i, row in enumerate(corpus_rows)
    ]
    snapshot = prepare_dataset(
        user_id, tmp_path, rows=corpus_rows, retrieve=lambda query, k: passages[:k], context_tokens=120
    )
    for sample in snapshot.train + snapshot.validation:
        assert OWN_HEADING in sample.prompt
        own = next(p for p in passages if p.document_id == sample.document_id)
        assert own.url not in sample.prompt  # never the target document itself


def test_other_users_rows_are_refused(tmp_path, user_id):
    with pytest.raises(DatasetError, match=f"belongs to user {user_id + 1}"):
        prepare_dataset(user_id, tmp_path, rows=sft_rows(user_id + 1))


def test_too_few_and_empty_say_what_is_needed(tmp_path, user_id, corpus_rows):
    with pytest.raises(DatasetError, match=r"too few samples .*: \d+ train and \d+ validation; at least 100 train"):
        prepare_dataset(user_id, tmp_path, rows=corpus_rows, min_train=100, min_validation=1)
    with pytest.raises(DatasetError, match="no training samples .*twin transform"):
        prepare_dataset(user_id, tmp_path, rows=[], min_train=1, min_validation=1)


def test_reads_marts_sft_samples_for_one_user_only(db_conn, user_id, corpus_rows):
    if db_conn.execute(sa.text("select to_regclass('marts.sft_samples')")).scalar() is None:
        with pytest.raises(DatasetError, match="does not exist yet: run `twin transform`"):
            fetch_sft_rows(db_conn, user_id)
        db_conn.execute(sa.text("create schema if not exists marts"))
        db_conn.execute(
            sa.text(
                "create table marts.sft_samples (sample_id text, document_id text, user_id bigint, "
                "instruction text, response text, split text)"
            )
        )  # rolled back with the test
    db_conn.execute(
        sa.text(
            "insert into marts.sft_samples (sample_id, document_id, user_id, instruction, response, "
            "split) values (:sample_id, :document_id, :user_id, :instruction, :response, :split)"
        ),
        corpus_rows + sft_rows(user_id + 1)[:3],
    )
    rows = fetch_sft_rows(db_conn, user_id)
    assert sorted(row["sample_id"] for row in rows) == sorted(row["sample_id"] for row in corpus_rows)
