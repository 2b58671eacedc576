"""How the tests load the repository's tools (eval/, bench/, scripts/): one way, by path.

A tool is a script, not a package module; ``load_tool("eval/chapter_pairing.py")`` runs it as the
module named after its file, registered in ``sys.modules`` under that name (its dataclasses look
their module up there, and a tool that imports a sibling by name, with its folder on ``sys.path``,
gets this same module rather than a second copy). Loading the same file again returns the module
already loaded.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_tool(relpath: str) -> ModuleType:
    path = (ROOT / relpath).resolve()
    name = path.stem
    loaded = sys.modules.get(name)
    if loaded is not None:
        if Path(getattr(loaded, "__file__", "") or "").resolve() != path:
            raise RuntimeError(f"{relpath}: the module name {name!r} is taken by {loaded!r}")
        return loaded
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"{relpath}: no such tool")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
