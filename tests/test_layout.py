"""The house's layout (docs/architecture.md): every import inside the package points down the list of
folders, never up and never at a private name of another folder, and nothing imports the package's
``__init__``. Read from the source with ``ast``, so a lazy import inside a function counts too."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "techins"
# bottom first; a module may import its own folder and the ones before it
ORDER = ["errors", "frozen", "lazy", "version", "display", "progress", "validate", "io", "model", "kernels", "results", "simulation",
         "exact", "pricing", "reinsurance", "catalogue", "pool", "backtest", "reporting", "service", "cli", "__main__"]


def room(module: str) -> str:
    """The folder (or bottom module) of ``techins.a.b`` -> ``a``."""
    return module.split(".")[1] if module.count(".") else "__init__"


def imports(path: Path):
    """(line, imported module, names) of every ``techins`` import in a source file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "techins":
            yield node.lineno, node.module, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "techins":
                    yield node.lineno, alias.name, []


SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down_the_list(path):
    here = room("techins." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts))
    assert here in ORDER, f"{here} is not in the layout list of tests/test_layout.py and docs/architecture.md"
    for line, module, names in imports(path):
        there = room(module) if module != "techins" else None
        if module == "techins":  # "from techins import validate": the names are modules
            for name in names:
                assert name in ORDER and name != "__init__", f"{path.name}:{line} imports the package face"
                assert ORDER.index(name) <= ORDER.index(here), f"{path.name}:{line} imports {name} up the list"
            continue
        assert ORDER.index(there) <= ORDER.index(here), f"{path.name}:{line} imports {module}, up the list"
        if there != here:
            private = [n for n in names if n.startswith("_")]
            assert not private, f"{path.name}:{line} takes private {private} from another folder ({module})"
