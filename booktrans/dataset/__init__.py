"""Long bilingual training documents: runs of consecutive aligned beads of one book, cut only at bead
boundaries, each within the round's token budget as rendered by the model's chat template."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

SYSTEM_PROMPT = "You are a professional book translator. You translate completely and faithfully."
INSTRUCTIONS = {
    "zh-en": (
        "Translate the following Chinese text into English. Translate every sentence, keep the "
        "paragraph breaks, and do not omit, summarise or add anything.\n\n"
    ),
    "en-zh": "请将下面的英文翻译成中文。逐句完整翻译，保留分段，不要遗漏、概括或增添任何内容。\n\n",
}
_SEP = {"zh": "", "en": " "}


@dataclass(frozen=True)
class DatasetConfig:
    """How one book becomes documents: params ``dataset``, ``rounds.<round>`` and ``seed`` (no defaults here:
    build it with :meth:`from_params`, change a value with ``dataclasses.replace``)."""

    context: int  # tokens: system + instruction + source + target, rendered, never exceed this
    en_zh_share: float  # share of documents that translate English into Chinese
    min_beads: int  # shorter runs (between null beads) are not worth a document
    max_chars: int  # Chinese characters per document, source or target side (0 = no cap); the
    # plan's "8k-character segments" of round 1 are max_chars: 8000
    seed: int

    @classmethod
    def from_params(cls, params, round_name: str) -> "DatasetConfig":
        """Round ``round_name``'s long documents from the typed params (booktrans.params.Params)."""
        r, d = params.rounds[round_name], params.dataset
        return cls(
            context=r.context, en_zh_share=d.en_zh_share, min_beads=d.min_beads, max_chars=r.max_chars, seed=params.seed
        )


def messages_for(direction: str, source: str, target: str | None = None) -> list[dict]:
    msgs = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": INSTRUCTIONS[direction] + source},
    ]
    if target is not None:
        msgs.append({"role": "assistant", "content": target})
    return msgs


def join_beads(beads: list[dict], lang: str) -> str:
    """Text of one side of consecutive beads; a paragraph change becomes a blank line."""
    out = ""
    prev_para = None
    for b in beads:
        sents = b[lang]
        if not sents:
            continue
        para = (b[f"{lang}_chapter"], b[f"{lang}_para"][0])
        piece = _SEP[lang].join(sents)
        if not out:
            out = piece
        elif para != prev_para:
            out += "\n\n" + piece
        else:
            out += _SEP[lang] + piece
        prev_para = (b[f"{lang}_chapter"], b[f"{lang}_para"][-1])
    return out


def _direction(book: str, start: int, cfg: DatasetConfig) -> str:
    h = int(hashlib.sha256(f"{cfg.seed}:{book}:{start}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "en-zh" if h < cfg.en_zh_share else "zh-en"


def _runs(beads: list[dict]) -> list[tuple[int, int]]:
    """Maximal runs [start, end) of beads fit for training: null beads and beads the aligner's filters
    dropped (``keep: false``) split runs, so no document holds a sentence without its translation."""
    runs, start = [], None
    for i, b in enumerate(beads):
        if b["zh"] and b["en"] and b.get("keep", True):
            if start is None:
                start = i
        elif start is not None:
            runs.append((start, i))
            start = None
    if start is not None:
        runs.append((start, len(beads)))
    return runs


def target_tokens(messages: list[dict], tokenizer, context: int) -> int:
    """Tokens of a document that carry a label, as the trainer encodes it (booktrans.train.data.encode_example:
    the assistant's turn up to its end-of-turn token): the next-token targets its loss counts (labels[1:])."""
    from ..train.data import encode_example
    from ..train.loss import IGNORE

    return sum(1 for label in encode_example(messages, tokenizer, context)["labels"][1:] if label != IGNORE)


def build_documents(book: dict, beads: list[dict], tokenizer, cfg: DatasetConfig) -> tuple[list[dict], dict]:
    """Cut one book's beads into documents within ``cfg.context`` tokens.

    ``book`` carries id, genre, license and split from the manifest. Returns (documents, stats).
    Token counts of every bead are computed once, in one batch; a candidate document's size is
    estimated from them and then checked exactly by rendering the chat template.
    """
    stats = {
        "beads": len(beads),
        "null_beads": sum(1 for b in beads if not (b["zh"] and b["en"])),
        "dropped_beads": sum(1 for b in beads if b["zh"] and b["en"] and not b.get("keep", True)),
        "oversized_beads": 0,
        "short_runs": 0,
        "documents": 0,
    }
    if not beads:
        return [], stats
    zh_texts = [_SEP["zh"].join(b["zh"]) for b in beads]
    en_texts = [_SEP["en"].join(b["en"]) for b in beads]
    enc = tokenizer(zh_texts + en_texts, add_special_tokens=False)["input_ids"]
    cost = [len(enc[i]) + len(enc[len(beads) + i]) + 2 for i in range(len(beads))]
    overhead = max(len(tokenizer.apply_chat_template(messages_for(d, "", ""), tokenize=True)) for d in INSTRUCTIONS)

    def exact(start: int, end: int, direction: str) -> int:
        src, tgt = direction.split("-")
        seg = beads[start:end]
        return len(
            tokenizer.apply_chat_template(
                messages_for(direction, join_beads(seg, src), join_beads(seg, tgt)), tokenize=True
            )
        )

    docs: list[dict] = []
    for run_start, run_end in _runs(beads):
        i = run_start
        while i < run_end:
            if overhead + cost[i] > cfg.context:
                stats["oversized_beads"] += 1
                i += 1
                continue
            j, total, chars = i, overhead, 0
            while (
                j < run_end
                and total + cost[j] <= cfg.context
                and (not cfg.max_chars or chars + len(zh_texts[j]) <= cfg.max_chars or j == i)
            ):
                total += cost[j]
                chars += len(zh_texts[j])
                j += 1
            # prefer ending at a paragraph (then chapter) boundary when that keeps most of the document
            if j < run_end:
                for k in range(j, i + max(1, (j - i) // 2), -1):
                    if (
                        beads[k]["zh_para"][0] != beads[k - 1]["zh_para"][-1]
                        or beads[k]["zh_chapter"] != beads[k - 1]["zh_chapter"]
                    ):
                        j = k
                        break
            direction = _direction(book["id"], i, cfg)
            n_tokens = exact(i, j, direction)
            while j > i + 1 and n_tokens > cfg.context:
                j -= 1
                n_tokens = exact(i, j, direction)
            if n_tokens > cfg.context:
                stats["oversized_beads"] += 1
                i = j
                continue
            if j - i < cfg.min_beads and (run_end - run_start) < cfg.min_beads:
                stats["short_runs"] += 1
                i = j
                continue
            src, tgt = direction.split("-")
            seg = beads[i:j]
            messages = messages_for(direction, join_beads(seg, src), join_beads(seg, tgt))
            docs.append(
                {
                    "messages": messages,
                    "meta": {
                        "book": book["id"],
                        "genre": book["genre"],
                        "license": book["license"],
                        "split": book["split"],
                        "direction": direction,
                        "beads": [i, j],
                        "tokens": n_tokens,
                        "target_tokens": target_tokens(messages, tokenizer, cfg.context),
                        "chapters": sorted({b["zh_chapter"] for b in seg}),
                    },
                }
            )
            i = j
    stats["documents"] = len(docs)
    return docs, stats
