"""Dataset export: a versioned, content-addressed snapshot of one user's ``marts.sft_samples``.

A snapshot is ``$TWIN_HOME/datasets/<user_id>/<snapshot_id>/`` holding ``train.jsonl``,
``validation.jsonl`` and ``manifest.json``. The id is a hash of the samples and the prompt format,
so exporting unchanged data again gives the same id (and reuses the folder). Each line carries the
raw instruction/response and the rendered ``prompt``/``completion`` the trainer consumes.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa

from training.chat_template import render_prompt

SPLITS = ("train", "validation")
SNAPSHOT_FORMAT = 1
SFT_SAMPLES_QUERY = sa.text(
    "select sample_id, document_id, user_id, instruction, response, split "
    "from marts.sft_samples where user_id = :user_id order by sample_id"
)


class DatasetError(ValueError):
    """The user's data cannot be trained on; the message says why and what to do."""


@dataclass(frozen=True)
class Sample:
    sample_id: str
    document_id: str
    instruction: str
    response: str
    split: str
    prompt: str

    def as_record(self) -> dict:
        return {"sample_id": self.sample_id, "document_id": self.document_id, "instruction": self.instruction,
                "response": self.response, "prompt": self.prompt, "completion": self.response}


@dataclass(frozen=True)
class DatasetSnapshot:
    user_id: int
    snapshot_id: str
    path: Path
    train: list[Sample]
    validation: list[Sample]

    @property
    def corpus(self) -> list[str]:
        """Every text in the snapshot (the tiny model's tokenizer is trained on it)."""
        return [text for sample in self.train + self.validation for text in (sample.prompt, sample.response)]


def fetch_sft_rows(conn: sa.Connection, user_id: int) -> list[dict]:
    """The user's rows of ``marts.sft_samples`` (a clear error when dbt has not built it yet)."""
    exists = conn.execute(sa.text("select to_regclass('marts.sft_samples')")).scalar()
    if exists is None:
        raise DatasetError("marts.sft_samples does not exist yet: run `twin transform` to build the training "
                           "dataset from the collected documents")
    return [dict(row) for row in conn.execute(SFT_SAMPLES_QUERY, {"user_id": user_id}).mappings()]


def build_samples(rows: Iterable[Mapping], user_id: int, system_prompt: str | None = None) -> list[Sample]:
    """Validate and render rows shaped like ``marts.sft_samples`` (other users' rows are refused)."""
    samples = []
    for row in rows:
        if int(row["user_id"]) != user_id:
            raise DatasetError(f"sample {row['sample_id']} belongs to user {row['user_id']}, not {user_id}")
        if row["split"] not in SPLITS:
            raise DatasetError(f"sample {row['sample_id']} has split {row['split']!r}; expected one of {SPLITS}")
        instruction, response = (row["instruction"] or "").strip(), (row["response"] or "").strip()
        if not instruction or not response:
            continue
        samples.append(Sample(sample_id=str(row["sample_id"]), document_id=str(row["document_id"]),
                              instruction=instruction, response=response, split=row["split"],
                              prompt=render_prompt(instruction, system_prompt)))
    return sorted(samples, key=lambda sample: sample.sample_id)


def check_sizes(samples: list[Sample], user_id: int, *, min_train: int, min_validation: int) -> None:
    train = sum(sample.split == "train" for sample in samples)
    validation = len(samples) - train
    if not samples:
        raise DatasetError(f"user {user_id} has no training samples in marts.sft_samples: collect their writing "
                           "(`twin crawl` / `twin import`) and run `twin transform` first")
    if train < min_train or validation < min_validation:
        raise DatasetError(
            f"too few samples for user {user_id}: {train} train and {validation} validation; at least {min_train} "
            f"train and {min_validation} validation are needed (config min_train_samples / min_validation_samples). "
            "Collect more of their writing, then run `twin transform`")
    leaked = {s.document_id for s in samples if s.split == "train"} & {s.document_id for s in samples
                                                                        if s.split == "validation"}
    if leaked:
        raise DatasetError(f"{len(leaked)} documents appear in both splits (e.g. {sorted(leaked)[0]}): "
                           "the split must be by document")


def snapshot_id_for(samples: list[Sample]) -> str:
    digest = hashlib.sha256(f"format={SNAPSHOT_FORMAT}\n".encode())
    for sample in samples:
        digest.update(json.dumps([sample.split, sample.as_record()], ensure_ascii=False, sort_keys=True).encode())
        digest.update(b"\n")
    return digest.hexdigest()[:16]


def export_snapshot(samples: list[Sample], user_id: int, home: Path) -> DatasetSnapshot:
    """Write (or reuse) the snapshot folder for ``samples``; written atomically via a temp folder."""
    snapshot_id = snapshot_id_for(samples)
    path = Path(home) / "datasets" / str(user_id) / snapshot_id
    by_split = {split: [s for s in samples if s.split == split] for split in SPLITS}
    if not (path / "manifest.json").exists():
        staging = path.with_name(f".{snapshot_id}.{os.getpid()}.tmp")
        staging.mkdir(parents=True, exist_ok=True)
        files = {}
        for split, split_samples in by_split.items():
            content = "".join(json.dumps(s.as_record(), ensure_ascii=False) + "\n" for s in split_samples)
            (staging / f"{split}.jsonl").write_text(content, encoding="utf-8")
            files[f"{split}.jsonl"] = {"rows": len(split_samples), "sha256": hashlib.sha256(content.encode()).hexdigest()}
        manifest = {"snapshot_id": snapshot_id, "user_id": user_id, "source": "marts.sft_samples",
                    "format": SNAPSHOT_FORMAT, "created_at": datetime.now(timezone.utc).isoformat(),
                    "documents": len({s.document_id for s in samples}), "files": files}
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        try:
            staging.rename(path)
        except OSError:  # a concurrent export of the same content won the race
            if not (path / "manifest.json").exists():
                raise
    return DatasetSnapshot(user_id, snapshot_id, path, by_split["train"], by_split["validation"])


def prepare_dataset(user_id: int, home: Path, *, rows: Iterable[Mapping] | None = None,
                    conn: sa.Connection | None = None, system_prompt: str | None = None,
                    min_train: int = 1, min_validation: int = 1) -> DatasetSnapshot:
    """Read the user's samples (``rows`` if given, else ``marts.sft_samples`` through ``conn``), check
    there are enough, and export the snapshot."""
    if rows is None:
        if conn is None:
            raise ValueError("pass rows or a connection")
        rows = fetch_sft_rows(conn, user_id)
    samples = build_samples(rows, user_id, system_prompt)
    check_sizes(samples, user_id, min_train=min_train, min_validation=min_validation)
    return export_snapshot(samples, user_id, home)


def load_snapshot(path: Path) -> DatasetSnapshot:
    """Read an exported snapshot back (the trainer workers and evaluation use this)."""
    path = Path(path)
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    by_split = {}
    for split in SPLITS:
        records = [json.loads(line) for line in (path / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()]
        by_split[split] = [Sample(sample_id=r["sample_id"], document_id=r["document_id"], instruction=r["instruction"],
                                  response=r["response"], split=split, prompt=r["prompt"]) for r in records]
    return DatasetSnapshot(int(manifest["user_id"]), manifest["snapshot_id"], path, by_split["train"],
                           by_split["validation"])
