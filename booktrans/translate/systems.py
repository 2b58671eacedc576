"""Outside systems, measured beside the rounds: ``translate.systems`` in params.yaml.

Each entry names a system and how its translations of the test books come about:

- ``engine: openai``  an OpenAI-compatible chat endpoint (``base_url``, ``model``); its key comes from
  the variables in ``key_env`` (default BOOKTRANS_API_KEY, then OPENAI_API_KEY; ``key_env: []`` for
  an endpoint that needs none). Without a key the system is skipped, not failed.
- ``engine: transformers`` / ``vllm``  a local model folder (``model``) that is not one of the rounds.
- ``engine: files``   translations made elsewhere: one file per test book and target language in
  ``path`` (default ``data/systems/<name>``), named ``<book>.<tgt>.txt|epub|pdf``, read by the
  project's ingest and paired with the source chapter by chapter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BooktransError, ConfigError

ENGINES = ("openai", "transformers", "vllm", "files")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class System:
    name: str
    engine: str
    model: str = ""  # endpoint model name (openai) or local model folder
    base_url: str = ""  # openai
    key_env: tuple[str, ...] = ("BOOKTRANS_API_KEY", "OPENAI_API_KEY")
    context: int = 0  # tokens per request (source + carried context + output); 0 = 16384 for an
    # endpoint, the model's own window for a local model
    max_tokens: int = 8192  # cap on output tokens per request (DeepSeek's limit is 8192)
    concurrency: int = 4  # requests in flight at once
    timeout: float = 300.0  # seconds to wait for one answer
    price: dict = field(default_factory=dict)  # USD per million tokens: input, output, cached_input
    path: str = ""  # files: folder of translations made elsewhere
    directions: tuple[str, ...] = ()  # empty = translate.directions
    extra: dict = field(default_factory=dict)  # more fields of the request body (openai), e.g. {top_p: 1}


def parse_systems(mapping: dict | None, reserved: list[str] | tuple[str, ...] = ()) -> dict[str, System]:
    """``translate.systems`` checked: known engines, the fields each needs, names that cannot be
    mistaken for a round's outputs."""
    out: dict[str, System] = {}
    for name, spec in (mapping or {}).items():
        where = f"translate.systems.{name}"
        if not _NAME.match(str(name)):
            raise ConfigError(f"{where}: a system name is letters, digits, - and _ (it names output files)")
        if name in reserved or name == "human":
            raise ConfigError(f"{where}: {name} is the name of a round (or of the human scores); choose another name")
        if not isinstance(spec, dict):
            raise ConfigError(f"{where}: give a mapping such as {{engine: openai, base_url: ..., model: ...}}")
        unknown = set(spec) - set(System.__dataclass_fields__) - {"name"}
        if unknown:
            raise ConfigError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        engine = spec.get("engine")
        if engine not in ENGINES:
            raise ConfigError(f"{where}.engine: {engine!r}; use one of {', '.join(ENGINES)}")
        if engine == "openai" and not (spec.get("base_url") and spec.get("model")):
            raise ConfigError(f"{where}: engine openai needs base_url and model")
        if engine in ("transformers", "vllm") and not spec.get("model"):
            raise ConfigError(f"{where}: engine {engine} needs model (a local model folder)")
        fields = {k: v for k, v in spec.items() if k != "name"}
        for k in ("key_env", "directions"):
            if k in fields:
                v = fields[k]
                fields[k] = tuple([v] if isinstance(v, str) else (v or []))
        out[name] = System(name=name, **fields)
    return out


def find_translation(folder: Path, book: str, tgt: str) -> Path:
    """The one file of ``folder`` that holds ``book`` translated into ``tgt``."""
    from ..ingest import READERS

    found = sorted(p for p in folder.glob(f"{book}.{tgt}.*") if p.suffix.lower() in READERS)
    if not found:
        raise BooktransError(
            f"{folder}: no translation of test book {book} into {tgt} (expected {book}.{tgt}.txt, .epub or .pdf)"
        )
    if len(found) > 1:
        raise BooktransError(f"{folder}: {', '.join(p.name for p in found)} all claim to be {book} in {tgt}; keep one")
    return found[0]


def import_translation(path: Path, source: list[dict], src: str, tgt: str, ingest) -> list[dict]:
    """Rows like the translate stage's, from a whole translated book made elsewhere: its chapters are
    paired with the source's by the project's chapter pairing (heading numbers, else order and
    length), one row per pair. A source chapter with no counterpart gets an empty translation (its
    sentences count as omitted); a translated chapter with no source joins the row before it.
    ``ingest`` (booktrans.ingest.IngestOptions) reads the translated file."""
    from ..align import chapter_numbers, pair_chapters, sentences_of
    from ..ingest import ingest_file

    translated = [p.to_json() for p in ingest_file(path, tgt, ingest).paragraphs]
    by_lang = {src: source, tgt: translated}
    zh, en = sentences_of(by_lang["zh"], "zh"), sentences_of(by_lang["en"], "en")
    pairs = pair_chapters(zh, en, chapter_numbers(by_lang["zh"], "zh"), chapter_numbers(by_lang["en"], "en"))
    src_paras: dict[int, list[dict]] = {}
    for p in source:
        src_paras.setdefault(p["chapter"], []).append(p)
    tgt_text: dict[int, list[str]] = {}
    for p in translated:
        tgt_text.setdefault(p["chapter"], []).append(p["text"])
    rows: list[dict] = []
    orphan: list[str] = []
    for zh_ch, en_ch in pairs:
        src_ch, tgt_ch = (zh_ch, en_ch) if src == "zh" else (en_ch, zh_ch)
        text = [t for c in tgt_ch for t in tgt_text.get(c, [])]
        paras = [p for c in src_ch for p in src_paras.get(c, [])]
        if not paras:
            if rows:
                rows[-1]["translation"] = "\n\n".join(x for x in (rows[-1]["translation"], *text) if x)
            else:
                orphan += text
            continue
        rows.append(
            {
                "chapter": src_ch[0],
                "paras": [p["para"] for p in paras],
                "source": "\n\n".join(p["text"] for p in paras),
                "translation": "\n\n".join(orphan + text),
                "truncated": False,
                "stop_reason": "imported",
                "carried": 0,
                "prompt_tokens": 0,
                "completion_tokens": 0,
                "cached_tokens": 0,
            }
        )
        orphan = []
    rows.sort(key=lambda r: r["paras"][0])
    return rows
