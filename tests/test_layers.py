"""The layers hold: ``ledger`` (the core) imports neither the HTTP layer nor the command line
(nor their libraries), and ``api`` does not import the command line. Checked on the source
(every import statement of every module) and at run time (importing the core loads none of
them)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# package -> top-level modules it must never import
FORBIDDEN = {
    "ledger": {"api", "cli", "typer", "rich", "uvicorn", "fastapi", "starlette"},
    "api": {"cli", "typer", "rich"},
}

pytestmark = pytest.mark.unit


def imports_of(path: Path, package: str) -> set[str]:
    """The top-level modules a file imports (relative imports resolved within ``package``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
            elif node.level > 0:
                found.add(package)
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_module_imports_a_layer_above_it(package: str) -> None:
    offences = []
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = imports_of(path, package) & FORBIDDEN[package]
        if bad:
            offences.append(f"{path.relative_to(ROOT)} imports {', '.join(sorted(bad))}")
    assert offences == []


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    """The test above can fail: a module importing the API is caught."""
    module = tmp_path / "bad.py"
    module.write_text("from api.app import create_app\nimport typer\nfrom . import x\n", encoding="utf-8")
    assert imports_of(module, "ledger") == {"api", "typer", "ledger"}


def test_importing_the_core_loads_no_upper_layer() -> None:
    code = (
        "import sys, ledger, ledger.verification, ledger.mirror, ledger.issuance, ledger.registry, ledger.node;"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'api', 'cli', 'typer', 'rich', 'uvicorn', 'fastapi'});"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == ""
