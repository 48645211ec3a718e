"""The committed contract artifacts (ledger/artifacts/*.json) are what contracts/ compiles to.

- scripts/build_contracts.mjs --check passes on the repository, and fails, naming the stale
  file, once a contract source changes;
- a second toolchain, Hardhat (hardhat.config.js, same solc 0.8.28 and settings), compiles the
  same sources to the same ABI and the same bytecode.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hardhat_node import hardhat, node_binary, project_copy
from helpers import ROOT

from ledger.contracts import CONTRACT_NAMES

ARTIFACTS = ROOT / "ledger" / "artifacts"


def build_check(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [node_binary(), "scripts/build_contracts.mjs", "--check"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def stale_files(stderr: str) -> set[str]:
    """The file names of the script's "stale artifacts: a, b — run: ..." line."""
    match = re.search(r"stale artifacts: (.*?) — run", stderr)
    assert match, f"no list of stale artifacts in: {stderr!r}"
    return {name.strip() for name in match.group(1).split(",")}


def strip_metadata(code: str) -> str:
    """Bytecode without solc's trailing CBOR metadata (its length is in the last 2 bytes)."""
    raw = bytes.fromhex(code.removeprefix("0x"))
    length = int.from_bytes(raw[-2:], "big")
    assert 0 < length < len(raw), "no CBOR metadata at the end of the bytecode"
    return raw[: -(length + 2)].hex()


# ---------------------------------------------------------------------- build script


def test_committed_artifacts_are_up_to_date() -> None:
    result = build_check(ROOT)
    assert result.returncode == 0, (
        f"ledger/artifacts is stale or the build failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
    )
    assert "artifacts up to date" in result.stdout


def test_staleness_check_detects_a_changed_source(tmp_path: Path) -> None:
    project = tmp_path / "project"
    for sub in ("contracts", "scripts", "ledger/artifacts"):
        shutil.copytree(ROOT / sub, project / sub)
    (project / "node_modules").symlink_to(ROOT / "node_modules", target_is_directory=True)

    # A comment changes no opcode, but the source's hash is in the metadata appended to the
    # bytecode, so Consortium's bytecode and the recorded build input both change.
    with (project / "contracts" / "Consortium.sol").open("a") as fh:
        fh.write("\n// touched by test_artifacts\n")
    result = build_check(project)
    assert result.returncode == 1, result.stdout + result.stderr
    stale = stale_files(result.stderr)  # a failed build would exit 1 too, without this list
    assert "Consortium.json" in stale
    assert "build-input.json" in stale
    # AgencyRegistry and CertificateRegistry do not import Consortium.sol (only IConsortium).
    assert not stale & {"AgencyRegistry.json", "CertificateRegistry.json"}, stale


# ---------------------------------------------------------------------- Hardhat


def hardhat_compile(project: Path) -> Path:
    """Run `hardhat compile` in ``project`` (offline: solc comes from npm); its artifact dir."""
    result = hardhat(["compile"], cwd=project)
    assert result.returncode == 0, f"hardhat compile failed:\n{result.stdout}\n{result.stderr}"
    return project / "build" / "hardhat" / "artifacts"


# One test, so that pytest-xdist does not compile once per worker (about 3-10 s each).
@pytest.mark.hardhat
def test_hardhat_compiles_the_same_contracts(tmp_path: Path) -> None:
    # A copy of the project, so as not to race anyone compiling in the repository itself.
    artifacts = hardhat_compile(project_copy(tmp_path / "project"))

    for name in CONTRACT_NAMES:
        ours = json.loads((ARTIFACTS / f"{name}.json").read_text())
        theirs = json.loads((artifacts / "contracts" / f"{name}.sol" / f"{name}.json").read_text())
        assert theirs["sourceName"] == ours["sourceName"] == f"contracts/{name}.sol"
        assert theirs["abi"] == ours["abi"], f"{name}: ABI differs"
        # The code proper must be identical ...
        for key in ("bytecode", "deployedBytecode"):
            assert strip_metadata(theirs[key]) == strip_metadata(ours[key]), f"{name}.{key}: code differs"
        # ... and so is the metadata hash: both builds name the sources alike (contracts/X.sol,
        # @openzeppelin/contracts/...) and use the same settings, so the bytecode is
        # byte-identical. Should this fail while the check above passes, only the metadata
        # (source names, contents or settings) differs.
        for key in ("bytecode", "deployedBytecode"):
            assert theirs[key] == ours[key], f"{name}.{key}: same code, different metadata"

    # Same compiler, same settings, exactly the sources the build script recorded.
    (info_file,) = (artifacts / "build-info").glob("*.json")
    info = json.loads(info_file.read_text())
    recorded = json.loads((ARTIFACTS / "build-input.json").read_text())
    assert info["solcVersion"] == "0.8.28"
    assert info["solcLongVersion"] == json.loads((ARTIFACTS / "Consortium.json").read_text())["compiler"]
    settings = info["input"]["settings"]
    for key in ("evmVersion", "optimizer", "metadata"):
        assert settings[key] == recorded["settings"][key], key
    assert set(info["input"]["sources"]) == set(recorded["sources"])
    for source_name, source in info["input"]["sources"].items():
        assert source["content"] == recorded["sources"][source_name]["content"], source_name


def test_vendored_web_assets_match_npm():
    """api/static/vendor holds exact copies of the npm QR decoder (scripts/vendor_assets.mjs)."""
    result = subprocess.run(
        ["node", "scripts/vendor_assets.mjs", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
