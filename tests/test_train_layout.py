"""booktrans.train is a package face: its modules hold the code, __init__.py only hands names on."""

import ast
import importlib
from pathlib import Path

import booktrans.train as train_pkg


def test_the_train_package_init_only_reexports():
    tree = ast.parse(Path(train_pkg.__file__).read_text(encoding="utf-8"))
    defined = [n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    assert defined == [], f"booktrans/train/__init__.py defines {defined}; put them in the module for their job"
    for name in train_pkg.__all__:
        obj = getattr(train_pkg, name)
        home = importlib.import_module(obj.__module__)
        assert home is not train_pkg and getattr(home, name) is obj


def test_importing_the_train_package_does_not_import_torch():
    # `booktrans plan` and preflight import this package on machines without the training stack loaded
    import subprocess
    import sys

    code = "import sys, booktrans.train; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_planner_lives_in_the_train_package_and_the_old_module_is_gone():
    import importlib.util

    from booktrans.train import plan as planner

    assert planner.__name__ == "booktrans.train.plan" and hasattr(planner, "memory_per_gpu")
    assert importlib.util.find_spec("booktrans.plan") is None  # no shim left behind
    assert not (Path(train_pkg.__file__).parents[1] / "plan.py").exists()
