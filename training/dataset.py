"""Dataset export: a versioned, content-addressed snapshot of one user's ``marts.sft_samples``.

A snapshot is ``$TWIN_HOME/datasets/<user_id>/<snapshot_id>/`` holding ``train.jsonl``,
``validation.jsonl`` and ``manifest.json``. The id is a hash of the samples and the prompt format,
so exporting unchanged data again gives the same id (and reuses the folder). Each line carries the
raw instruction/response, the system prompt and the user message the trainer renders with the base
model's chat template.

Before the export:
- near-duplicate documents (the same article on Medium and Substack, a LinkedIn article that is
  also a blog post) are grouped and the whole group goes to one split, so the held-out split never
  holds a text the model was trained on (:func:`group_near_duplicates`);
- each sample gets the prompt serving builds: the request plus a context block of retrieved
  passages from the author's *other* documents (never the target's own group), so the model learns
  to write from context the way it is asked to at serving (:func:`attach_context`);
- training is bounded: at most ``max_train_samples`` are kept, spread over as many documents as
  possible (:func:`select_samples`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from twin.core.chat_template import DEFAULT_SYSTEM_PROMPT, chat_messages
from twin.core.prompting import ContextItem, assemble_prompt, instruction_text

SPLITS = ("train", "validation")
SNAPSHOT_FORMAT = 2
NEAR_DUPLICATE_JACCARD = 0.5
SHINGLE_WORDS = 5
REQUEST_PREFIX = re.compile(r"^(?:write|draft) a linkedin post(?: in my voice| for my network)? about\s+", re.I)
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
    prompt: str  # the user message: request, guidelines and context (rendered by the model's chat template)
    system: str = DEFAULT_SYSTEM_PROMPT

    def as_record(self) -> dict:
        return {
            "sample_id": self.sample_id,
            "document_id": self.document_id,
            "instruction": self.instruction,
            "response": self.response,
            "system": self.system,
            "prompt": self.prompt,
        }

    def trainer_record(self) -> dict:
        """trl's conversational prompt-completion shape (rendered with the tokenizer's chat template)."""
        return {
            "prompt": chat_messages(self.prompt, self.system),
            "completion": [{"role": "assistant", "content": self.response}],
        }


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
        return [
            text for sample in self.train + self.validation for text in (sample.system, sample.prompt, sample.response)
        ]


def fetch_sft_rows(conn: sa.Connection, user_id: int) -> list[dict]:
    """The user's rows of ``marts.sft_samples`` (a clear error when dbt has not built it yet)."""
    exists = conn.execute(sa.text("select to_regclass('marts.sft_samples')")).scalar()
    if exists is None:
        raise DatasetError(
            "marts.sft_samples does not exist yet: run `twin transform` to build the training "
            "dataset from the collected documents"
        )
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
        samples.append(
            Sample(
                sample_id=str(row["sample_id"]),
                document_id=str(row["document_id"]),
                instruction=instruction,
                response=response,
                split=row["split"],
                prompt=user_message(instruction, []),
                system=system_prompt or DEFAULT_SYSTEM_PROMPT,
            )
        )
    return sorted(samples, key=lambda sample: sample.sample_id)


def request_of(instruction: str) -> str:
    """The topic of a dbt instruction ("Write a LinkedIn post about X" -> "X"): what a user types."""
    return REQUEST_PREFIX.sub("", instruction.strip()) or instruction.strip()


def user_message(instruction: str, own_blocks: list[str], max_post_chars: int = 3000) -> str:
    return instruction_text(request_of(instruction), [], own_blocks, max_post_chars)


def _shingles(text: str) -> set[str]:
    words = re.findall(r"\w+", text.lower())
    return {" ".join(words[i : i + SHINGLE_WORDS]) for i in range(max(1, len(words) - SHINGLE_WORDS + 1))}


def group_near_duplicates(samples: list[Sample], threshold: float = NEAR_DUPLICATE_JACCARD) -> dict[str, str]:
    """document_id -> group id (the smallest document id of its group). Two documents are one group
    when their texts share most 5-word shingles (Jaccard, or containment of the shorter one), which
    catches one article cross-posted with small edits or a changed title."""
    texts: dict[str, list[str]] = {}
    for sample in sorted(samples, key=lambda s: s.sample_id):
        texts.setdefault(sample.document_id, []).append(sample.response)
    ids = sorted(texts)
    shingles = {doc: _shingles("\n".join(texts[doc])) for doc in ids}
    parent = {doc: doc for doc in ids}

    def find(doc: str) -> str:
        while parent[doc] != doc:
            parent[doc] = parent[parent[doc]]
            doc = parent[doc]
        return doc

    for index, first in enumerate(ids):
        for second in ids[index + 1 :]:
            a, b = shingles[first], shingles[second]
            shared = len(a & b)
            if not shared:
                continue
            if shared / len(a | b) >= threshold or shared / min(len(a), len(b)) >= 0.8:
                root_a, root_b = find(first), find(second)
                if root_a != root_b:
                    parent[max(root_a, root_b)] = min(root_a, root_b)
    return {doc: find(doc) for doc in ids}


def split_by_group(samples: list[Sample], groups: dict[str, str]) -> list[Sample]:
    """Every sample of a near-duplicate group takes the split of the group's first document."""
    split_of_document = {sample.document_id: sample.split for sample in samples}
    return [replace(sample, split=split_of_document[groups[sample.document_id]]) for sample in samples]


def select_samples(samples: list[Sample], max_train: int | None) -> list[Sample]:
    """At most ``max_train`` training samples (validation untouched), spread over as many documents as
    possible: each document's first sections first, round-robin over documents in a stable order."""
    train = [sample for sample in samples if sample.split == "train"]
    if max_train is None or len(train) <= max_train:
        return samples
    by_document: dict[str, list[Sample]] = {}
    for sample in sorted(train, key=lambda s: s.sample_id):
        by_document.setdefault(sample.document_id, []).append(sample)
    order = sorted(by_document, key=lambda doc: hashlib.sha256(doc.encode()).hexdigest())
    chosen: list[Sample] = []
    depth = 0
    while len(chosen) < max_train:
        layer = [by_document[doc][depth] for doc in order if depth < len(by_document[doc])]
        if not layer:
            break
        chosen.extend(layer[: max_train - len(chosen)])
        depth += 1
    kept = {sample.sample_id for sample in chosen}
    return [sample for sample in samples if sample.split != "train" or sample.sample_id in kept]


Retrieve = Callable[[str, int], list[ContextItem]]
"""(query, how many) -> the author's best-matching passages, best first."""


def attach_context(
    samples: list[Sample],
    retrieve: Retrieve,
    groups: dict[str, str],
    *,
    context_tokens: int,
    count_tokens: Callable[[str], int],
    max_post_chars: int = 3000,
    k: int = 3,
) -> list[Sample]:
    """Give each sample the user message serving would build: its request plus passages retrieved
    for it from the author's other documents (never from the target's near-duplicate group)."""
    if context_tokens <= 0:
        return samples
    result = []
    for sample in samples:
        group = groups.get(sample.document_id, sample.document_id)
        hits = [
            item
            for item in retrieve(request_of(sample.instruction), k + 4)
            if groups.get(item.document_id or "", item.document_id) != group
        ][:k]
        assembled = assemble_prompt(
            request_of(sample.instruction),
            [],
            hits,
            count_tokens=count_tokens,
            prompt_budget=10**6,
            context_tokens=context_tokens,
            max_post_chars=max_post_chars,
            system=sample.system,
            render=lambda message, system: message,
        )
        result.append(replace(sample, prompt=assembled.instruction))
    return result


def check_sizes(samples: list[Sample], user_id: int, *, min_train: int, min_validation: int) -> None:
    train = sum(sample.split == "train" for sample in samples)
    validation = len(samples) - train
    if not samples:
        raise DatasetError(
            f"user {user_id} has no training samples in marts.sft_samples: collect their writing "
            "(`twin crawl` / `twin import`) and run `twin transform` first"
        )
    if train < min_train or validation < min_validation:
        raise DatasetError(
            f"too few samples for user {user_id}: {train} train and {validation} validation; at least {min_train} "
            f"train and {min_validation} validation are needed (config min_train_samples / min_validation_samples). "
            "Collect more of their writing, then run `twin transform`"
        )
    leaked = {s.document_id for s in samples if s.split == "train"} & {
        s.document_id for s in samples if s.split == "validation"
    }
    if leaked:
        raise DatasetError(
            f"{len(leaked)} documents appear in both splits (e.g. {sorted(leaked)[0]}): the split must be by document"
        )


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
            files[f"{split}.jsonl"] = {
                "rows": len(split_samples),
                "sha256": hashlib.sha256(content.encode()).hexdigest(),
            }
        manifest = {
            "snapshot_id": snapshot_id,
            "user_id": user_id,
            "source": "marts.sft_samples",
            "format": SNAPSHOT_FORMAT,
            "created_at": datetime.now(UTC).isoformat(),
            "documents": len({s.document_id for s in samples}),
            "files": files,
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        try:
            staging.rename(path)
        except OSError:  # a concurrent export of the same content won the race
            if not (path / "manifest.json").exists():
                raise
    return DatasetSnapshot(user_id, snapshot_id, path, by_split["train"], by_split["validation"])


def prepare_dataset(
    user_id: int,
    home: Path,
    *,
    rows: Iterable[Mapping] | None = None,
    conn: sa.Connection | None = None,
    system_prompt: str | None = None,
    min_train: int = 1,
    min_validation: int = 1,
    max_train: int | None = None,
    retrieve: Retrieve | None = None,
    context_tokens: int = 0,
    count_tokens: Callable[[str], int] | None = None,
) -> DatasetSnapshot:
    """Read the user's samples (``rows`` if given, else ``marts.sft_samples`` through ``conn``), keep
    near-duplicates in one split, check there are enough, bound the training set, give each sample
    its retrieved context (when ``retrieve`` is given) and export the snapshot."""
    if rows is None:
        if conn is None:
            raise ValueError("pass rows or a connection")
        rows = fetch_sft_rows(conn, user_id)
    samples = build_samples(rows, user_id, system_prompt)
    groups = group_near_duplicates(samples)
    samples = split_by_group(samples, groups)
    check_sizes(samples, user_id, min_train=min_train, min_validation=min_validation)
    samples = select_samples(samples, max_train)
    if retrieve is not None:
        samples = attach_context(
            samples,
            retrieve,
            groups,
            context_tokens=context_tokens,
            count_tokens=count_tokens or (lambda text: len(text) // 4 + 1),
        )
    return export_snapshot(samples, user_id, home)


def load_snapshot(path: Path) -> DatasetSnapshot:
    """Read an exported snapshot back (the trainer workers and evaluation use this)."""
    path = Path(path)
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    by_split = {}
    for split in SPLITS:
        records = [json.loads(line) for line in (path / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()]
        by_split[split] = [
            Sample(
                sample_id=r["sample_id"],
                document_id=r["document_id"],
                instruction=r["instruction"],
                response=r["response"],
                split=split,
                prompt=r["prompt"],
                system=r.get("system") or DEFAULT_SYSTEM_PROMPT,
            )
            for r in records
        ]
    return DatasetSnapshot(
        int(manifest["user_id"]), manifest["snapshot_id"], path, by_split["train"], by_split["validation"]
    )
