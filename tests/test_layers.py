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


def package_graph(package: str) -> dict[str, set[str]]:
    """Module -> modules of the same package it imports (``api.routes.verify`` -> ``api.deps``, ...)."""
    base = ROOT / package
    graph: dict[str, set[str]] = {}
    for path in sorted(base.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        name = ".".join(parts)
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    anchor = parts if is_package else parts[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    target = ".".join(anchor + ([node.module] if node.module else []))
                    names = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
                else:
                    names = [node.module or ""]
                found.update(n for n in names if n.split(".")[0] == package)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.split(".")[0] == package)
        graph[name] = {m for m in found if m != name}
    known = set(graph)
    return {m: {d for d in deps if d in known} for m, deps in graph.items()}


def cycle_in(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle (as a path that returns to its start), or [] when there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str]:
        state[module] = 1
        path.append(module)
        for dep in sorted(graph.get(module, ())):
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep not in state and (found := visit(dep)):
                return found
        path.pop()
        state[module] = 2
        return []

    for module in sorted(graph):
        if module not in state and (found := visit(module)):
            return found
    return []


@pytest.mark.parametrize("package", ["ledger", "api", "cli"])
def test_no_import_cycle_within_a_package(package: str) -> None:
    """app.py assembles the API; the parts (errors, state, deps, routes) never import it."""
    assert cycle_in(package_graph(package)) == []


def test_the_cycle_finder_sees_a_cycle() -> None:
    assert cycle_in({"api.app": {"api.routes.verify"}, "api.routes.verify": {"api.app"}}) == [
        "api.app",
        "api.routes.verify",
        "api.app",
    ]
    assert cycle_in({"api.app": {"api.routes.verify"}, "api.routes.verify": {"api.errors"}, "api.errors": set()}) == []


def _loaded_after(code: str, modules: set[str]) -> list[str]:
    probe = code + f";import sys;print(','.join(sorted(m for m in {sorted(modules)!r} if m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    return [m for m in out.stdout.strip().split(",") if m]


def test_the_command_line_loads_no_heavy_library_before_a_command_needs_it() -> None:
    """``certledger --help`` stays fast: building the command tree loads neither web3,
    eth-account, SQLAlchemy nor the API (they cost seconds); commands import what they use."""
    heavy = {"web3", "eth_account", "sqlalchemy", "api", "fastapi", "ledger.chain", "ledger.registry"}
    assert _loaded_after("import cli; cli.app.registered_commands", heavy) == []


def test_verifying_from_the_mirror_loads_no_web3() -> None:
    """A verification against the mirror (the CLI's and the API's default) never needs web3 or
    eth-account: only a document's signature check loads eth-account, when it runs."""
    code = (
        "import ledger.verification, ledger.verification.factory, ledger.mirror.queries, ledger.mirror.store, "
        "ledger.deployment, ledger.watch, ledger.mirror.rpc"
    )
    assert _loaded_after(code, {"web3", "eth_account", "ledger.chain", "ledger.registry"}) == []
