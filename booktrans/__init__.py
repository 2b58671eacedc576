"""booktrans: a reproducible pipeline that fine-tunes an LLM to translate whole books (zh <-> en).

The package is the library: pure, typed functions with no hard-coded paths. The DVC stage scripts in
``stages/`` read ``params.yaml`` and pass plain values in.
"""

__version__ = "0.1.0"
LANGS = ("zh", "en")
