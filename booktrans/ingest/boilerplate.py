"""Text that is not the book's: Project Gutenberg's header (up to its START line) and licence (from
its END line), recognised by those lines in any format."""

from __future__ import annotations

import re

from .model import Block, ReadResult

GUTENBERG_START = re.compile(
    r"\*{3}\s*START OF (?:THE|THIS) PROJECT GUTENBERG E-?BOOK|"
    r"\*END\*THE SMALL PRINT! FOR PUBLIC DOMAIN",
    re.I,
)
GUTENBERG_END = re.compile(
    r"\*{3}\s*END OF (?:THE|THIS) PROJECT GUTENBERG E-?BOOK|"
    r"^\s*End of (?:the )?Project Gutenberg'?s? ",
    re.I | re.M,
)
_GUTENBERG_CREDIT = re.compile(r"^\s*(?:produced by|e-?text prepared by|this e-?(?:book|text) was produced by)", re.I)


def count_boilerplate(result: ReadResult, blocks: list[Block]) -> None:
    """Count the characters of text that is not the book's (left out of an edition's kept share)."""
    result.stats["boilerplate_chars"] = result.stats.get("boilerplate_chars", 0) + sum(
        len("".join(b.text.split())) for b in blocks
    )


def cut_gutenberg(blocks: list[Block], result: ReadResult) -> None:
    """Drop the Project Gutenberg header (up to its START line and the producers' credit after it) and
    the licence (from its END line on), counted as ``gutenberg_header`` / ``gutenberg_licence``."""
    half = len(blocks) // 2
    start = next((i for i, b in enumerate(blocks[: max(half, 1)]) if GUTENBERG_START.search(b.text)), None)
    if start is not None:
        end_of_header = start + 1
        while (
            end_of_header < min(len(blocks), start + 4)
            and _GUTENBERG_CREDIT.match(blocks[end_of_header].text)
            and len(blocks[end_of_header].text) < 400
        ):
            end_of_header += 1
        result.drop("gutenberg_header", end_of_header)
        count_boilerplate(result, blocks[:end_of_header])
        del blocks[:end_of_header]
    end = next((i for i, b in enumerate(blocks) if GUTENBERG_END.search(b.text)), None)
    if end is not None and (start is not None or end >= len(blocks) // 2):  # a marker, not a quotation of one
        result.drop("gutenberg_licence", len(blocks) - end)
        count_boilerplate(result, blocks[end:])
        del blocks[end:]
