"""Dataset export: versioned snapshots of one user's SFT samples, split by document."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from tests.training.corpus import POSTS, sft_rows
from training.dataset import DatasetError, fetch_sft_rows, load_snapshot, prepare_dataset


def test_snapshot_is_content_addressed_and_complete(tmp_path, user_id, corpus_rows):
    snapshot = prepare_dataset(user_id, tmp_path, rows=corpus_rows)
    assert snapshot.path == tmp_path / "datasets" / str(user_id) / snapshot.snapshot_id
    assert len(snapshot.train) + len(snapshot.validation) == len(POSTS)
    manifest = json.loads((snapshot.path / "manifest.json").read_text())
    assert manifest["snapshot_id"] == snapshot.snapshot_id and manifest["user_id"] == user_id
    assert manifest["files"]["train.jsonl"]["rows"] == len(snapshot.train)
    line = json.loads((snapshot.path / "train.jsonl").read_text().splitlines()[0])
    assert line["prompt"].endswith("### Response:\n") and line["completion"] == line["response"]

    again = prepare_dataset(user_id, tmp_path, rows=list(reversed(corpus_rows)))
    assert again.snapshot_id == snapshot.snapshot_id
    assert load_snapshot(snapshot.path) == snapshot

    changed = [dict(row) for row in corpus_rows]
    changed[0]["response"] += "\n\n#OneMore"
    assert prepare_dataset(user_id, tmp_path, rows=changed).snapshot_id != snapshot.snapshot_id


def test_no_document_straddles_the_split(tmp_path, user_id, corpus_rows):
    leaked = corpus_rows + [{**corpus_rows[0], "sample_id": "extra", "split": "validation" if
                            corpus_rows[0]["split"] == "train" else "train"}]
    with pytest.raises(DatasetError, match="appear in both splits"):
        prepare_dataset(user_id, tmp_path, rows=leaked)


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
        db_conn.execute(sa.text("create table marts.sft_samples (sample_id text, document_id text, user_id bigint, "
                                "instruction text, response text, split text)"))  # rolled back with the test
    db_conn.execute(sa.text("insert into marts.sft_samples (sample_id, document_id, user_id, instruction, response, "
                            "split) values (:sample_id, :document_id, :user_id, :instruction, :response, :split)"),
                    corpus_rows + sft_rows(user_id + 1)[:3])
    rows = fetch_sft_rows(db_conn, user_id)
    assert sorted(row["sample_id"] for row in rows) == sorted(row["sample_id"] for row in corpus_rows)
