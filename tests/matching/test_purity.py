"""The pure matching core imports no Django and no app code."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {"django", "listings", "harbors", "symbiosis"}
PURE_MODULES = (
    "matching/scoring.py",
    "matching/engine.py",
    "matching/kernels.py",
    "matching/synthetic.py",
)


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "__import__":
            roots.add("__import__")
    return roots


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_module_imports_no_django_or_apps(module: str) -> None:
    roots = _imported_roots(ROOT / module)
    assert not roots & FORBIDDEN, f"{module} imports {sorted(roots & FORBIDDEN)}"
    assert "__import__" not in roots


@pytest.mark.parametrize(
    "module", ["matching/scoring.py", "matching/engine.py", "matching/kernels.py"]
)
def test_scoring_and_engine_use_no_clock_io_or_randomness(module: str) -> None:
    roots = _imported_roots(ROOT / module)
    assert roots <= {
        "__future__",
        "collections",
        "dataclasses",
        "datetime",
        "enum",
        "math",
        "re",
        "typing",
        "numpy",
        "scipy",
        "numba",
        "matching",
    }
    source = (ROOT / module).read_text(encoding="utf-8")
    for banned in ("date.today(", "datetime.now(", "time.time(", "np.random", "open("):
        assert banned not in source, banned
