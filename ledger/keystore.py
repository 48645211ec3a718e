"""Encrypted keystore files (Web3 Secret Storage, scrypt) for region admins and agency keys.

A key is never printed or logged; only its address is. The password comes from
``CERTLEDGER_PASSWORD`` or, on a terminal, a prompt.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import sys
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import is_address, to_checksum_address

from .errors import ConfigError, InvalidInput
from .files import write_atomically

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


def check_name(name: str) -> str:
    if not _NAME_RE.fullmatch(name or ""):
        raise InvalidInput(f"invalid key name {name!r}: letters, digits, '.', '_' and '-' only")
    return name


class Keystore:
    """A directory of keystore files, one per named key (``<name>.json``)."""

    def __init__(self, directory: Path, password: str | None = None, scrypt_n: int = 2**18) -> None:
        self.directory = Path(directory)
        self._password = password
        self.scrypt_n = scrypt_n
        self._unlocked: dict[str, LocalAccount] = {}

    # -------------------------------------------------------------- password

    def password(self) -> str:
        if self._password is None:
            if not sys.stdin.isatty():
                raise ConfigError("no keystore password: set CERTLEDGER_PASSWORD or run on a terminal")
            self._password = getpass.getpass("keystore password: ")
        return self._password

    # -------------------------------------------------------------- files

    def path(self, name: str) -> Path:
        return self.directory / f"{check_name(name)}.json"

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def names(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(p.stem for p in self.directory.glob("*.json"))

    def address(self, name: str) -> str:
        """The key's address, read without decrypting."""
        try:
            data = json.loads(self.path(name).read_text())
        except FileNotFoundError:
            raise ConfigError(f"no key named {name!r} in {self.directory}") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"keystore file for {name!r} is unreadable: {exc}") from None
        return to_checksum_address("0x" + data["address"].removeprefix("0x"))

    def _write(self, name: str, private_key: bytes) -> str:
        path = self.path(name)
        if path.exists():
            raise InvalidInput(f"a key named {name!r} already exists")
        encrypted = Account.encrypt(private_key, self.password(), kdf="scrypt", iterations=self.scrypt_n)
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        write_atomically(path, json.dumps(encrypted).encode(), mode=0o600)
        return to_checksum_address(Account.from_key(private_key).address)

    def create(self, name: str) -> str:
        """Generate a new key, store it encrypted, return its address."""
        account = Account.create()
        address = self._write(name, account.key)
        self._unlocked[name] = account
        return address

    def import_private_key(self, name: str, private_key_hex: str) -> str:
        text = private_key_hex.strip().removeprefix("0x")
        if not re.fullmatch(r"[0-9a-fA-F]{64}", text):
            raise InvalidInput("private key must be 32 bytes of hex")
        return self._write(name, bytes.fromhex(text))

    def import_keystore(self, name: str, keystore_file: Path, keystore_password: str) -> str:
        try:
            data = json.loads(Path(keystore_file).read_text())
            private_key = Account.decrypt(data, keystore_password)
        except FileNotFoundError:
            raise InvalidInput(f"no such keystore file: {keystore_file}") from None
        except ValueError:
            raise ConfigError(f"cannot decrypt {keystore_file}: wrong password or not a keystore file") from None
        return self._write(name, bytes(private_key))

    def load(self, name: str) -> LocalAccount:
        """Decrypt key ``name`` (cached for the life of this object)."""
        if name not in self._unlocked:
            try:
                data = json.loads(self.path(name).read_text())
            except FileNotFoundError:
                raise ConfigError(f"no key named {name!r} in {self.directory}") from None
            try:
                private_key = Account.decrypt(data, self.password())
            except ValueError:
                raise ConfigError(f"wrong password for key {name!r}") from None
            self._unlocked[name] = Account.from_key(private_key)
        return self._unlocked[name]

    def resolve_address(self, name_or_address: str) -> str:
        """An address given literally, or the address of a named key."""
        if is_address(name_or_address):
            return to_checksum_address(name_or_address)
        return self.address(name_or_address)
