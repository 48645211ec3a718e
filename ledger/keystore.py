"""Encrypted keystore files (Web3 Secret Storage, scrypt) for region admins and agency keys.

A key is never printed or logged; only its address is. The password comes from
``CERTLEDGER_PASSWORD`` or, on a terminal, a prompt.

In a deployment of the ``sm`` suite an agency key is a pair: the secp256k1 chain key
(``<name>.json``) and an SM2 key beside it (``<name>.sm2.json``: the same Web3 Secret Storage
encryption of its 32-byte scalar under the same password, with its public key and signer ID in
clear).
"""

from __future__ import annotations

import getpass
import json
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import is_address, to_checksum_address

from .errors import ConfigError, InvalidInput
from .files import write_atomically

if TYPE_CHECKING:
    from .crypto.sm import SM2PrivateKey
    from .signing import BatchSigner

SM2_SUFFIX = ".sm2.json"

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
        self._unlocked_sm2: dict[str, SM2PrivateKey] = {}

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
        return sorted(p.stem for p in self.directory.glob("*.json") if not p.name.endswith(SM2_SUFFIX))

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

    # -------------------------------------------------------------- SM2 keys (sm suite)

    def sm2_path(self, name: str) -> Path:
        return self.directory / f"{check_name(name)}{SM2_SUFFIX}"

    def has_sm2(self, name: str) -> bool:
        return self.sm2_path(name).is_file()

    def _read_sm2(self, name: str) -> dict[str, Any]:
        try:
            data = json.loads(self.sm2_path(name).read_text())
        except FileNotFoundError:
            raise ConfigError(f"key {name!r} has no SM2 key in {self.directory}") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"SM2 keystore file for {name!r} is unreadable: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("sm2"), dict):
            raise ConfigError(f"SM2 keystore file for {name!r} is malformed")
        return data

    def create_sm2(self, name: str, signer_id: str = "1234567812345678", private_key: bytes | None = None) -> bytes:
        """Generate (or store) the SM2 key of key ``name``, encrypted beside it; returns its
        public key as the contract takes it (x || y, 64 bytes)."""
        from .crypto.sm import SM2PrivateKey, signer_id_bytes

        path = self.sm2_path(name)
        if path.exists():
            raise InvalidInput(f"key {name!r} already has an SM2 key")
        signer_id_bytes(signer_id)  # checked: at most 8191 bytes
        key = SM2PrivateKey.from_bytes(private_key) if private_key is not None else SM2PrivateKey.generate()
        encrypted = dict(Account.encrypt(key.to_bytes(), self.password(), kdf="scrypt", iterations=self.scrypt_n))
        encrypted.pop("address", None)  # a secp256k1 address of the scalar would mean nothing
        public = key.public_key.to_bytes()
        data = {"sm2": {"publicKey": "0x" + public.hex(), "signerId": signer_id}, **encrypted}
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        write_atomically(path, json.dumps(data).encode(), mode=0o600)
        self._unlocked_sm2[name] = key
        return public[1:]

    def sm2_public_key(self, name: str) -> bytes | None:
        """The SM2 public key (x || y) of key ``name``, read without decrypting; None: it has none."""
        if not self.has_sm2(name):
            return None
        return bytes.fromhex(str(self._read_sm2(name)["sm2"]["publicKey"]).removeprefix("0x"))[1:]

    def sm2_signer_id(self, name: str) -> bytes:
        return str(self._read_sm2(name)["sm2"].get("signerId", "1234567812345678")).encode("utf-8")

    def load_sm2(self, name: str) -> SM2PrivateKey:
        """Decrypt the SM2 key of ``name`` (cached for the life of this object)."""
        from .crypto.sm import SM2PrivateKey

        if name not in self._unlocked_sm2:
            data = self._read_sm2(name)
            try:
                scalar = Account.decrypt({k: v for k, v in data.items() if k != "sm2"}, self.password())
            except ValueError:
                raise ConfigError(f"wrong password for the SM2 key of {name!r}") from None
            key = SM2PrivateKey.from_bytes(bytes(scalar))
            if key.public_key.to_bytes() != bytes.fromhex(str(data["sm2"]["publicKey"]).removeprefix("0x")):
                raise ConfigError(f"the SM2 keystore file of {name!r} does not match its public key")
            self._unlocked_sm2[name] = key
        return self._unlocked_sm2[name]

    def signer(self, name: str, suite: str = "intl") -> BatchSigner:
        """What signs batches with key ``name``: its chain key, and in the sm suite its SM2 key."""
        from .signing import BatchSigner

        account = self.load(name)
        if suite == "intl":
            return BatchSigner(account)
        if not self.has_sm2(name):
            raise ConfigError(
                f"key {name!r} has no SM2 key, which an {suite} deployment needs to sign batches "
                f"(rotate to a new key with `certledger key rotate`)"
            )
        return BatchSigner(account, suite, self.load_sm2(name), self.sm2_signer_id(name))

    def resolve_address(self, name_or_address: str) -> str:
        """An address given literally, or the address of a named key."""
        if is_address(name_or_address):
            return to_checksum_address(name_or_address)
        return self.address(name_or_address)
