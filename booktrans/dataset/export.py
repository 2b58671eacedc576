"""Exports of a round's documents: the JSONL messages format most trainers read (with its
LLaMA-Factory ``dataset_info.json`` entry) and a Hugging Face ``datasets`` copy."""

from __future__ import annotations

from pathlib import Path

from ..io import write_json


def llamafactory_info(round_name: str) -> dict:
    """dataset_info.json entries for LLaMA-Factory's sharegpt-style messages format."""

    def entry(split: str) -> dict:
        return {
            "file_name": f"{split}.jsonl",
            "formatting": "sharegpt",
            "columns": {"messages": "messages"},
            "tags": {
                "role_tag": "role",
                "content_tag": "content",
                "user_tag": "user",
                "assistant_tag": "assistant",
                "system_tag": "system",
            },
        }

    return {f"booktrans_{round_name}_train": entry("train"), f"booktrans_{round_name}_valid": entry("valid")}


def write_exports(out: Path, round_name: str, splits: dict[str, list[dict]]) -> None:
    import datasets

    write_json(out / "dataset_info.json", llamafactory_info(round_name))
    datasets.disable_progress_bars()
    features = datasets.Features(
        {
            "messages": [{"role": datasets.Value("string"), "content": datasets.Value("string")}],
            "meta": {
                "book": datasets.Value("string"),
                "genre": datasets.Value("string"),
                "license": datasets.Value("string"),
                "split": datasets.Value("string"),
                "direction": datasets.Value("string"),
                "beads": datasets.Sequence(datasets.Value("int64")),
                "chapters": datasets.Sequence(datasets.Value("int64")),
                "tokens": datasets.Value("int64"),
                "target_tokens": datasets.Value("int64"),
                "kind": datasets.Value("string"),
            },
        }
    )
    dd = datasets.DatasetDict(
        {name: datasets.Dataset.from_list(docs, features=features) for name, docs in splits.items()}
    )
    dd.save_to_disk(str(out / "hf"))
