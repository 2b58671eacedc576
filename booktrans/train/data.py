"""The round's rows: encoding a conversation with its labels, packing documents into rows, and the
collator that pads a batch (and, under sequence parallelism, keeps this rank's slice)."""

from __future__ import annotations

from .loss import IGNORE


def encode_example(messages: list[dict], tokenizer, context: int) -> dict:
    """input_ids and labels with every non-assistant token masked (-100)."""
    full = tokenizer.apply_chat_template(messages, tokenize=True)
    prompt = tokenizer.apply_chat_template(messages[:-1], tokenize=True, add_generation_prompt=True)
    if full[: len(prompt)] != prompt:
        raise ValueError("chat template renders the prompt differently inside the full conversation")
    labels = [IGNORE] * len(prompt) + full[len(prompt) :]
    # whatever the template puts after the end-of-turn token (ChatML: a newline) is not the model's to emit
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")  # the unknown token's id (or None) when absent
    if eos is None or eos == tokenizer.unk_token_id:
        eos = tokenizer.eos_token_id
    if eos in full[len(prompt) :]:
        end = len(prompt) + full[len(prompt) :].index(eos) + 1
        labels[end:] = [IGNORE] * (len(labels) - end)
    return {"input_ids": full[:context], "labels": labels[:context]}


def pack_examples(examples: list[dict], context: int) -> list[dict]:
    """Concatenate encoded examples, in order, into rows of at most ``context`` tokens. Each row
    carries position ids that restart at 0 for every document: attention never crosses a document
    boundary, and no label is predicted across one (each document starts with masked prompt tokens)."""
    rows, cur = [], {"input_ids": [], "labels": [], "position_ids": []}
    for ex in examples:
        n = len(ex["input_ids"])
        if cur["input_ids"] and len(cur["input_ids"]) + n > context:
            rows.append(cur)
            cur = {"input_ids": [], "labels": [], "position_ids": []}
        cur["input_ids"] += ex["input_ids"]
        cur["labels"] += ex["labels"]
        cur["position_ids"] += list(range(n))
    if cur["input_ids"]:
        rows.append(cur)
    return rows


def index_rows(rows: list[dict]) -> list[dict]:
    """The rows, each carrying its position in the list as ``index`` (the collator passes it on as
    ``row``, so the round's record says which rows every rank read in every micro-batch)."""
    return [{**r, "index": i} for i, r in enumerate(rows)]


class Collator:
    """Pads a batch to one width and gives every row position ids.

    - The width is rounded up to a multiple of the sequence-parallel degree, so every rank of a
      group gets a slice of the same length; padding carries no label.
    - Unpacked rows: positions 0..width-1 (continuing through the padding) and an attention mask.
      Packed rows: each document's positions restart at 0 (the padding is one more "document").
    - Sequence parallelism (``sp`` > 1, ``shard`` on): every rank of a group receives the same rows
      (the loader shards over data-parallel groups only) and keeps its contiguous slice
      ``[sp_rank * width / sp, (sp_rank + 1) * width / sp)`` of the input ids, the positions (which
      therefore continue across slices: RoPE sees the true position of every token) and the targets,
      shifted *before* slicing (``shift_labels``) so the last position of a slice predicts the first
      token of the next one. DeepSpeed's attention ignores the mask (padding sits at the end of a row,
      where causal attention never lets a real token see it); it is still passed for unpacked rows, as
      without it transformers takes the position ids for packed rows and builds a tokens x tokens mask.
    - Rows that carry an ``index`` (``index_rows``) come with ``row``: their indices, for the record.
    """

    def __init__(self, pad_id: int, sp: int = 1, sp_rank: int = 0) -> None:
        self.pad_id, self.sp, self.sp_rank = pad_id, sp, sp_rank
        self.shard = sp > 1

    def __call__(self, batch: list[dict]) -> dict:
        import torch

        width = max(len(b["input_ids"]) for b in batch)
        width = -(-width // self.sp) * self.sp
        packed = "position_ids" in batch[0]
        ids, labels, mask, pos = [], [], [], []
        for b in batch:
            n = len(b["input_ids"])
            pad = width - n
            ids.append(b["input_ids"] + [self.pad_id] * pad)
            labels.append(b["labels"] + [IGNORE] * pad)
            pos.append(b["position_ids"] + list(range(pad)) if packed else list(range(width)))
            mask.append([1] * n + [0] * pad)
        out = {"input_ids": torch.tensor(ids), "position_ids": torch.tensor(pos)}
        if all("index" in b for b in batch):
            out["row"] = torch.tensor([b["index"] for b in batch])
        if not self.shard:
            out["labels"] = torch.tensor(labels)
            if not packed:
                out["attention_mask"] = torch.tensor(mask)
            return out
        targets = torch.tensor(labels)
        targets = torch.cat([targets[:, 1:], torch.full((len(batch), 1), IGNORE)], dim=1)
        lo, hi = self.sp_rank * width // self.sp, (self.sp_rank + 1) * width // self.sp
        shard = {
            "input_ids": out["input_ids"][:, lo:hi].contiguous(),
            "position_ids": out["position_ids"][:, lo:hi].contiguous(),
            "shift_labels": targets[:, lo:hi].contiguous(),
        }
        if not packed:
            shard["attention_mask"] = torch.tensor(mask)[:, lo:hi].contiguous()
        if "row" in out:
            shard["row"] = out["row"]
        return shard
