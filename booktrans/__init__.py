"""booktrans: a reproducible pipeline that fine-tunes an LLM to translate whole books (zh <-> en).

The package is the library: pure, typed functions with no hard-coded paths. The DVC stage scripts in
``stages/`` load ``params.yaml`` once through ``booktrans.params`` (a typed record per section) and
pass those records, or values taken from them, in; the library never reads params.yaml itself.
"""

import os

# Models come from local paths only (docs/train.md): never ask a model hub. peft looks a base model's
# config up by name when it saves an adapter; offline, that lookup fails at once instead of retrying
# for half a minute per round on a cluster without internet (`dvc repro` run without the Makefile).
# Set HF_HUB_OFFLINE=0 to allow the hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

__version__ = "0.1.0"
LANGS = ("zh", "en")
