"""The operator CLI, run as a user runs it: real commands against a real node.

Most tests call ``cli.main`` in-process (same code path as the installed
``certledger`` script, ten times faster); the demo test runs the installed script itself.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account
from helpers import ROOT, free_port

from cli import main

PASSWORD = "test-password"


class Cli:
    def __init__(self, capsys: pytest.CaptureFixture[str], home: Path) -> None:
        self.capsys = capsys
        self.home = home

    def __call__(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main(list(args))
        out, err = self.capsys.readouterr()
        return code, out, err

    def ok(self, *args: str) -> dict | list:
        code, out, err = self(*args, "--json")
        assert code == 0, f"certledger {' '.join(args)} failed: {err}"
        return json.loads(out)

    def fails(self, *args: str) -> str:
        """Run a command that must fail; returns its single stderr line."""
        code, out, err = self(*args)
        assert code != 0, f"certledger {' '.join(args)} succeeded: {out}"
        lines = err.strip().splitlines()
        assert len(lines) == 1, f"expected one line on stderr, got: {err!r}"
        assert lines[0].startswith("error: ")
        return lines[0]


@pytest.fixture
def cli(capsys, tmp_path, monkeypatch, anvil) -> Cli:
    monkeypatch.setenv("CERTLEDGER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CERTLEDGER_RPC_URL", anvil.url)
    monkeypatch.setenv("CERTLEDGER_PASSWORD", PASSWORD)
    monkeypatch.setenv("CERTLEDGER_KEYSTORE_SCRYPT_N", "1024")
    for var in ("CERTLEDGER_KEY", "CERTLEDGER_DEPLOYMENT", "CERTLEDGER_PORT"):
        monkeypatch.delenv(var, raising=False)
    return Cli(capsys, tmp_path / "home")


@pytest.fixture
def deployed(cli: Cli) -> Cli:
    """A fresh deployment (440000, 330000, 110000; quorum 2) with type ID_CARD."""
    data = cli.ok("deploy")
    assert data["deployed"] and data["quorum"] == 2
    schema = ROOT / "ledger" / "certtypes" / "ID_CARD.json"
    proposal = cli.ok("type", "add", "ID_CARD", "--schema", str(schema), "--key", "admin-440000")
    assert not proposal["executed"]
    assert cli.ok("region", "approve", str(proposal["proposal"]), "--key", "admin-330000")["executed"]
    return cli


def test_deploy_writes_the_deployment_file_once(cli):
    first = cli.ok("deploy")
    saved = json.loads((cli.home / "deployment.json").read_text())
    assert saved["certificate_registry"] == first["certificate_registry"]
    assert saved["deployment_block"] > 0
    again = cli.ok("deploy")
    assert again["deployed"] is False and again["certificate_registry"] == first["certificate_registry"]
    fresh = cli.ok("deploy", "--force")
    assert fresh["certificate_registry"] != first["certificate_registry"]


def test_region_governance(deployed):
    cli = deployed
    cli.ok("key", "new", "admin-350000")
    proposal = cli.ok("region", "propose", "350000", "--admin", "admin-350000", "--key", "admin-440000")
    assert proposal["executed"] is False
    open_ = cli.ok("region", "proposals")
    assert [p["id"] for p in open_] == [proposal["proposal"]]
    assert open_[0]["params"]["region"] == 350000
    assert cli.ok("region", "approve", str(proposal["proposal"]), "--key", "admin-330000")["executed"]
    regions = cli.ok("region", "list")
    assert {r["region"] for r in regions["regions"] if r["member"]} == {440000, 330000, 110000, 350000}
    line = cli.fails("region", "approve", str(proposal["proposal"]), "--key", "admin-110000")
    assert "ProposalAlreadyExecuted" in line
    # the new region's admin can act for its region
    cli.ok("agency", "add", "FJ-PSB", "--region", "350000", "--types", "ID_CARD")
    # quorum proposal
    assert cli.ok("region", "list")["quorum"] == 3  # 4 members now: a majority is 3
    q = cli.ok("region", "propose", "--quorum", "2/3", "--key", "admin-440000")
    assert not cli.ok("region", "approve", str(q["proposal"]), "--key", "admin-350000")["executed"]
    assert cli.ok("region", "approve", str(q["proposal"]), "--key", "admin-330000")["executed"]
    assert cli.ok("region", "list")["quorum"] == 3
    assert cli.ok("region", "list")["quorum_rule"] == "2/3"


def test_agency_and_key_life_cycle(deployed):
    cli = deployed
    cli.ok("agency", "add", "GD-PSB", "--region", "440000", "--types", "ID_CARD")
    first = cli.ok("key", "new", "GD-PSB-1", "--agency", "GD-PSB")
    [agency] = cli.ok("agency", "list", "--region", "440000")
    assert agency["types"] == ["ID_CARD"]
    assert [(k["address"], k["state"]) for k in agency["keys"]] == [(first["address"], "ACTIVE")]

    rotated = cli.ok("key", "rotate", "GD-PSB-1", "GD-PSB-2")
    assert rotated["retired"] == first["address"] and rotated["created"]
    states = {k["address"]: k["state"] for k in cli.ok("agency", "list")[0]["keys"]}
    assert states == {first["address"]: "RETIRED", rotated["active"]: "ACTIVE"}

    cli.ok("key", "compromise", "GD-PSB-2", "--since", "now")
    states = {k["address"]: k["state"] for k in cli.ok("agency", "list")[0]["keys"]}
    assert states[rotated["active"]] == "COMPROMISED"
    assert "KeyAlreadyCompromised" in cli.fails("key", "compromise", "GD-PSB-2", "--since", "now")

    assert cli.ok("agency", "suspend", "GD-PSB")["suspended"] is True
    assert cli.ok("agency", "list")[0]["suspended"] is True
    assert "AgencySuspended" in cli.fails("agency", "suspend", "GD-PSB")
    cli.ok("agency", "suspend", "GD-PSB", "--lift")
    assert cli.ok("agency", "list")[0]["suspended"] is False


def test_recognition_rules(deployed):
    cli = deployed
    cli.ok("recognize", "--verifier", "330000", "--type", "ID_CARD", "--issuer", "440000", "--until", "2030-01-01")
    cli.ok("recognize", "--verifier", "110000", "--type", "ID_CARD")
    rules = cli.ok("recognitions")
    assert {(r["verifier_region"], r["issuer_region"]) for r in rules} == {(330000, 440000), (110000, None)}
    assert [r["valid_until"] for r in rules if r["verifier_region"] == 330000] == ["2030-01-01T00:00:00Z"]
    cli.ok("recognize", "--verifier", "110000", "--type", "ID_CARD", "--remove")
    assert [r["verifier_region"] for r in cli.ok("recognitions")] == [330000]
    assert "UnknownRecognitionRule" in cli.fails("recognize", "--verifier", "110000", "--type", "ID_CARD", "--remove")


def test_type_list_shows_schema(deployed):
    [t] = deployed.ok("type", "list")
    assert t["type"] == "ID_CARD"
    assert [f["name"] for f in t["schema"]["fields"]][:2] == ["name", "sex"]


def test_keys_are_encrypted_and_never_printed(cli):
    code, out, err = cli("key", "new", "GD-X-1", "--json")
    assert code == 0
    path = cli.home / "keys" / "GD-X-1.json"
    private_key = Account.decrypt(json.loads(path.read_text()), PASSWORD).hex()
    assert private_key.removeprefix("0x") not in out + err
    assert private_key.removeprefix("0x") not in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    code, out, err = cli("key", "list", "--json")
    assert private_key.removeprefix("0x") not in out + err
    assert json.loads(out) == [{"name": "GD-X-1", "address": Account.from_key(private_key).address}]


def test_key_import(cli, monkeypatch, tmp_path):
    account = Account.create()
    monkeypatch.setenv("IMPORTED_KEY", account.key.hex())
    assert cli.ok("key", "import", "imp-1", "--private-key-env", "IMPORTED_KEY")["address"] == account.address
    other = Account.create()
    keyfile = tmp_path / "other.json"
    keyfile.write_text(json.dumps(Account.encrypt(other.key, "file-password", iterations=1024)))
    monkeypatch.setenv("FILE_PW", "file-password")
    got = cli.ok("key", "import", "imp-2", "--keystore", str(keyfile), "--keystore-password-env", "FILE_PW")
    assert got["address"] == other.address
    monkeypatch.setenv("FILE_PW", "wrong")
    assert "wrong password" in cli.fails(
        "key", "import", "imp-3", "--keystore", str(keyfile), "--keystore-password-env", "FILE_PW"
    )
    assert "already exists" in cli.fails("key", "import", "imp-1", "--private-key-env", "IMPORTED_KEY")


@pytest.mark.parametrize(
    "args, expected",
    [
        (["agency", "add", "X", "--region", "44000", "--types", "ID_CARD"], "invalid region code '44000'"),
        (["agency", "add", "GD PSB", "--region", "440000", "--types", "ID_CARD"], "invalid agency code"),
        (["agency", "add", "GD-Z", "--region", "440000", "--types", "NOPE"], "UnknownType(typeId=NOPE)"),
        (
            ["agency", "add", "ZJ-Z", "--region", "330000", "--types", "ID_CARD", "--key", "admin-440000"],
            "NotAdminOfRegion",
        ),
        (["agency", "suspend", "NO-SUCH"], "unknown agency 'NO-SUCH'"),
        (["recognize", "--verifier", "330000", "--type", "ID_CARD", "--from", "yesterday-ish"], "invalid time"),
        (["region", "approve", "999", "--key", "admin-440000"], "UnknownProposal(id=999)"),
        (["region", "propose", "350000", "--key", "admin-440000"], "needs --admin"),
        (["key", "rotate", "0x0000000000000000000000000000000000000001", "n1"], "not a registered signing key"),
        (["agency", "list", "--region", "1234567"], "invalid region code"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(deployed, args, expected):
    before = deployed.ok("agency", "list")
    line = deployed.fails(*args)
    assert expected in line
    assert deployed.ok("agency", "list") == before


def test_wrong_password(deployed, monkeypatch):
    monkeypatch.setenv("CERTLEDGER_PASSWORD", "not-it")
    line = deployed.fails("agency", "add", "GD-Y", "--region", "440000", "--types", "ID_CARD")
    assert line == "error: wrong password for key 'admin-440000'"


def test_missing_deployment_and_node_down(cli, monkeypatch):
    assert "run `certledger deploy` first" in cli.fails("region", "list")
    monkeypatch.setenv("CERTLEDGER_RPC_URL", f"http://127.0.0.1:{free_port()}")
    assert "no node answers" in cli.fails("region", "list")


def test_usage_errors_exit_2_with_one_line(cli):
    code, _, err = cli("agency", "add", "X", "--region", "440000")
    assert code == 2 and err.strip() == "error: Missing option '--types'."
    code, _, err = cli("no-such-command")
    assert code == 2 and "No such command" in err


def leaf_commands() -> list[list[str]]:
    """Every command of the tree, as its words (``["key", "rotate"]``)."""
    from cli import command

    found: list[list[str]] = []

    def walk(cmd, path: list[str]) -> None:
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, [*path, name])
        else:
            found.append(path)

    walk(command(), [])
    return found


def test_every_command_has_help_and_json(cli):
    """Every command (found in the tree, so a new one is covered too): --help works, offers
    --json, shows no value placeholder on on/off flags, and summarises itself in one sentence
    that the command list shows whole."""
    commands = leaf_commands()
    assert len(commands) > 30 and ["serve"] in commands and ["key", "rotate"] in commands
    for command in commands:
        code, out, _ = cli(*command, "--help")
        assert code == 0, command
        assert "--json" in out, command
        assert "<bool>" not in out, command
    code, out, _ = cli("--help")
    assert code == 0 and "<bool>" not in out
    import inspect

    from cli import command as tree

    def summaries(cmd, path: str) -> None:
        for name, sub in getattr(cmd, "commands", {}).items():
            summary = inspect.cleandoc(sub.help or "").split("\n\n")[0]
            assert summary and "\n" not in summary, f"{path} {name}: the summary spans lines: {summary!r}"
            summaries(sub, f"{path} {name}")

    summaries(tree(), "certledger")


def test_demo_as_a_new_user_runs_it(tmp_path):
    """`certledger demo` on a fresh home: chain, deployment, bootstrap; a second run reuses it."""
    env = {**os.environ, "CERTLEDGER_HOME": str(tmp_path / "home"), "CERTLEDGER_PORT": str(free_port())}
    for var in ("CERTLEDGER_RPC_URL", "CERTLEDGER_PASSWORD", "CERTLEDGER_DEPLOYMENT", "CERTLEDGER_KEYSTORE_SCRYPT_N"):
        env.pop(var, None)
    exe = shutil.which("certledger", path=str(Path(sys.executable).parent)) or "certledger"
    try:
        first = subprocess.run(
            [exe, "demo", "--no-serve", "--json"], env=env, capture_output=True, text=True, timeout=300
        )
        assert first.returncode == 0, first.stderr
        report = json.loads(first.stdout)
        assert {r["region"] for r in report["regions"]} == {440000, 330000, 110000}
        assert len(report["agencies"]) == 7 and len(report["types"]) == 8 and report["recognitions"] == 11
        assert report["reused"] == [] and len(report["created"]) > 30
        # between the runs, as in the walkthrough: GD-PSB's key is rotated
        admin_env = {**env, "CERTLEDGER_PASSWORD": "certledger-demo", "CERTLEDGER_KEYSTORE_SCRYPT_N": "4096"}
        rotated = subprocess.run(
            [exe, "key", "rotate", "GD-PSB-1", "GD-PSB-2", "--key", "admin-440000", "--json"],
            env=admin_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert rotated.returncode == 0, rotated.stderr
        second = subprocess.run(
            [exe, "demo", "--no-serve", "--json"], env=env, capture_output=True, text=True, timeout=300
        )
        assert second.returncode == 0, second.stderr
        again = json.loads(second.stdout)
        # everything found on chain: deployment, 8 types, 7 agencies, 8 keys (GD-PSB has two now), 11 rules
        assert again["created"] == [] and len(again["reused"]) == 1 + 8 + 7 + 8 + 11
        keys = [r for r in again["reused"] if r.startswith(("signing key", "key "))]
        assert "key GD-PSB-1 of GD-PSB: retired, does not sign" in keys and "signing key GD-PSB-2 of GD-PSB" in keys
        assert not any("GD-PSB-1" in r and r.startswith("signing key") for r in keys)
        assert again["deployment"]["certificate_registry"] == report["deployment"]["certificate_registry"]
        assert report["issued"] == again["issued"] == {"ID_CARD": 100, "BUSINESS_LICENSE": 20}
        assert again["indexed_now"] == 0 and report["indexed_now"] == 120
        assert Path(report["sample_certificate"]).is_file() and Path(report["sample_qr"]).is_file()
    finally:
        subprocess.run([exe, "chain", "down"], env=env, capture_output=True, timeout=60)


def test_deployment_file_of_the_old_contracts_is_refused(deployed):
    """A deployment file written for the contracts of format 1 (batches keyed by root alone)
    cannot be used with this version: every command says so in one line, and nothing is sent."""
    path = deployed.home / "deployment.json"
    data = json.loads(path.read_text())
    data["format"] = 1
    path.write_text(json.dumps(data))
    for args in (("agency", "list"), ("region", "list"), ("verify", "0x" + "ab" * 32)):
        line = deployed.fails(*args)
        assert "format 1" in line and "deploy again" in line, line
    del data["format"]  # files older still had no format field at all
    path.write_text(json.dumps(data))
    assert "format 1" in deployed.fails("agency", "list")
