"""The layering is enforced, not remembered: the core, the API and the session never import
Qt, pyqtgraph or the GUI (so everything the GUI shows can be computed and tested headless);
`make lint` checks the finer layers with import-linter."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "nokenviz"
FORBIDDEN = {
    "core": ("PySide6", "pyqtgraph", "nokenviz.gui", "nokenviz.state", "nokenviz.api"),
    "api": ("PySide6", "pyqtgraph", "nokenviz.gui", "nokenviz.state", "nokenviz.cli"),
    "state": ("PySide6", "pyqtgraph", "nokenviz.gui", "nokenviz.cli"),
}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (lazy imports inside functions included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_no_qt(layer: str) -> None:
    files = sorted((PACKAGE / layer).rglob("*.py"))
    assert files
    for path in files:
        for module in imported_modules(path):
            assert not module.startswith(FORBIDDEN[layer]), f"{path.name} imports {module}"


def test_the_checker_sees_lazy_imports(tmp_path: Path) -> None:
    source = tmp_path / "lazy.py"
    source.write_text("def f():\n    from PySide6.QtCore import Qt\n    import pyqtgraph\n")
    assert imported_modules(source) == {"PySide6.QtCore", "pyqtgraph"}


def test_the_central_state_is_typed() -> None:
    from nokenviz.state.session import Session

    hints = Session.__annotations__
    assert hints and not [name for name, hint in hints.items() if "Any" in str(hint)]


def test_every_package_ships() -> None:
    """Each package folder is listed for the wheel (an editable install would hide a miss)."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    listed = set(
        tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"][
            "packages"
        ]
    )
    found = {
        ".".join(init.parent.relative_to(PACKAGE.parent).parts)
        for init in PACKAGE.rglob("__init__.py")
    }
    assert found <= listed, f"not in pyproject.toml: {sorted(found - listed)}"


def test_the_command_line_parses_before_torch_is_imported() -> None:
    """`nokenviz` starts the window from the command line: parsing must not import torch (or
    Qt), so the window paints first."""
    import subprocess
    import sys

    code = (
        "import sys; from nokenviz.cli.parser import build_parser; import nokenviz; "
        "build_parser().parse_args(['gui']); "
        "print(sorted(m for m in ('torch', 'transformers', 'PySide6') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
