"""Certificate documents: the citizen's file, its canonical hashing and selective disclosure.

Two formats are read; new certificates are written in ``certledger/2``.

``certledger/2`` names its cryptographic suite (``"suite": "intl"`` hashes with SHA-256,
``"sm"`` with SM3; ``H`` below) and binds the always-disclosed metadata on its own, so that a
compact QR code carrying the metadata and one digest of the holder's fields can be checked
against the anchored certificate hash::

    fieldHash    = H( "CL2F" || salt[16] || u16(len(name)) || name || u32(len(value)) || value )
    metaDigest   = H( "CL2M" || entry($type) || entry($agency) || entry($region) || entry($validFrom)
                      || entry($validUntil) || entry($identifier) )   fixed order; "" when absent
                   entry(n) = u16(len(n)) || n || u32(len(v)) || v
    holderDigest = H( "CL2H" || fieldHash_1 || ... || fieldHash_n )   holder field hashes sorted
    certHash     = H( "CL2C" || metaDigest || holderDigest )

``$identifier`` is the GB/T 36904 e-licence identifier (``ledger.gbt.identifier``), empty when
the certificate has none.

``certledger/1`` (read and verified as ever, always SHA-256): every entry — the holder's fields and the metadata entries ``$type``,
``$agency``, ``$region``, ``$validFrom``, ``$validUntil`` — is hashed on its own. Holder
fields get a random 16-byte salt each; metadata entries, always disclosed, use 16 zero bytes::

    fieldHash = SHA-256( "CL1F" || salt[16] || u16(len(name)) || name || u32(len(value)) || value )
    certHash  = SHA-256( "CL1C" || fieldHash_1 || ... || fieldHash_n )   field hashes sorted ascending

(names and values UTF-8, values in the canonical text of ``ledger.schema``, lengths big-endian
in bytes). Because the certificate hash depends only on the sorted field hashes, a holder can
disclose some fields and show the others as their hashes: the certificate hash still
verifies. The certificate hash is what is anchored on chain (a leaf of the batch's Merkle
tree, see ``ledger.merkle``). See docs/certificate-format.md for the full description and
test vectors.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson

from .errors import InvalidInput
from .ids import region_code
from .merkle import root_from_proof
from .schema import FIELD_NAME_RE, FieldError, canonical_date, nfc
from .suites import INTL, SM, SUITES, suite

FORMAT_V1 = "certledger/1"
FORMAT_V2 = "certledger/2"
FORMAT = FORMAT_V2  # what new certificates are written in
FORMATS = (FORMAT_V1, FORMAT_V2)
FIELD_TAG = b"CL1F"
CERT_TAG = b"CL1C"
V2_FIELD_TAG = b"CL2F"
V2_META_TAG = b"CL2M"
V2_HOLDER_TAG = b"CL2H"
V2_CERT_TAG = b"CL2C"
SALT_BYTES = 16
META_SALT = bytes(SALT_BYTES)  # metadata is always shown: a salt would hide nothing
META_FIELDS = ("$type", "$agency", "$region", "$validFrom", "$validUntil")
META_FIELDS_V2 = (*META_FIELDS, "$identifier")  # metaDigest's fixed order
_IDENTIFIER = re.compile(r"^[0-9A-Z.]{1,100}$")  # shape only: verification parses it (GB/T 36904)
_HEX32 = re.compile(r"^0x[0-9a-fA-F]{64}$")
_SALT = re.compile(r"^0x[0-9a-fA-F]{32}$")
_HEX_SIG = re.compile(r"^0x[0-9a-fA-F]{130}$")
_HEX64 = re.compile(r"^0x[0-9a-fA-F]{128}$")  # an SM2 signature, r || s
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")

_sha256 = hashlib.sha256
_pack_name = struct.Struct(">H").pack
_pack_value = struct.Struct(">I").pack


def field_hash(name: str, value: str, salt: bytes) -> bytes:
    """The salted hash of one entry (value already canonical)."""
    n = name.encode()
    v = value.encode()
    return _sha256(FIELD_TAG + salt + _pack_name(len(n)) + n + _pack_value(len(v)) + v).digest()


def certificate_hash(field_hashes: Iterable[bytes]) -> bytes:
    """The certificate hash from its field hashes, in any order (``certledger/1``)."""
    return _sha256(CERT_TAG + b"".join(sorted(field_hashes))).digest()


# ---------------------------------------------------------------------- certledger/2

Hash = Callable[[bytes], bytes]


_HASHES: dict[str, Hash] = {}


def suite_hash(name: str) -> Hash:
    """The suite's 32-byte hash as a plain callable, resolved once per process (issuance calls
    it ~10 times per certificate)."""
    h = _HASHES.get(name)
    if h is None:
        if name == SM:
            from .crypto.sm import SM3_PROVIDER, sm3

            if SM3_PROVIDER.startswith("hashlib"):
                fresh = hashlib.new("sm3").copy  # a fresh SM3 state: cheaper than looking "sm3" up by name

                def h(data: bytes) -> bytes:
                    state = fresh()
                    state.update(data)
                    return state.digest()

            else:  # pragma: no cover - depends on the interpreter's OpenSSL build
                h = sm3
        else:
            h = suite(name).hash
        _HASHES[name] = h
    return h


_NAME_PREFIX: dict[str, bytes] = {}  # u16(len(name)) || name, for the few names a ledger has


def _entry(name: str, value: str) -> bytes:
    prefix = _NAME_PREFIX.get(name)
    if prefix is None:
        n = name.encode()
        prefix = _pack_name(len(n)) + n
        if len(_NAME_PREFIX) < 1024:  # bounded: documents from anywhere pass through a server
            _NAME_PREFIX[name] = prefix
    v = value.encode()
    return prefix + _pack_value(len(v)) + v


def field_hash_v2(h: Hash, name: str, value: str, salt: bytes) -> bytes:
    """A holder field's salted hash in ``certledger/2`` (value already canonical)."""
    return h(V2_FIELD_TAG + salt + _entry(name, value))


def meta_digest(h: Hash, values: Sequence[str]) -> bytes:
    """metaDigest over the six metadata values in ``META_FIELDS_V2`` order ("" when absent)."""
    return h(V2_META_TAG + b"".join(_entry(n, v) for n, v in zip(META_FIELDS_V2, values, strict=True)))


def holder_digest(h: Hash, field_hashes: Iterable[bytes]) -> bytes:
    """holderDigest from the holder fields' hashes, in any order."""
    return h(V2_HOLDER_TAG + b"".join(sorted(field_hashes)))


def certificate_hash_v2(h: Hash, meta: bytes, holder: bytes) -> bytes:
    return h(V2_CERT_TAG + meta + holder)


@dataclass(frozen=True)
class Metadata:
    """The always-disclosed entries of a ``certledger/2`` certificate, and its suite: all a
    compact QR code carries besides the holder digest."""

    suite: str
    type: str
    agency: str
    region: int
    valid_from: str
    valid_until: str | None
    identifier: str | None = None

    def values(self) -> tuple[str, ...]:
        return (
            self.type,
            self.agency,
            str(self.region),
            self.valid_from,
            self.valid_until or "",
            self.identifier or "",
        )

    def digest(self) -> bytes:
        return meta_digest(suite_hash(self.suite), self.values())

    def certificate_hash(self, holder: bytes) -> bytes:
        """The certificate hash of these metadata with the holder digest ``holder``."""
        return certificate_hash_v2(suite_hash(self.suite), self.digest(), holder)


def deployment_suite(deployment: Any) -> str:
    """A deployment's cryptographic suite by name (``intl`` for deployments that predate suites)."""
    value = getattr(deployment, "suite", INTL)
    return str(value if isinstance(value, str) else getattr(value, "name", INTL))


def new_salts(names: Sequence[str]) -> dict[str, bytes]:
    """One fresh salt per field, from the operating system's CSPRNG (``SALT_POOL``)."""
    return SALT_POOL.take(names)


class SaltPool:
    """Salts from ``os.urandom`` drawn a block at a time: one system call per ``block`` bytes
    instead of one per certificate (a fifth of a batch's build time went to the calls). Every
    byte is used once. A forked process never continues its parent's block (the block is
    dropped when the process id changes): two issuance workers can never hand out the same salt."""

    def __init__(self, block: int = 1 << 16) -> None:
        self.block = block
        self._buf = b""
        self._at = 0
        self._pid = 0
        self._lock = threading.Lock()  # threads never share a slice either

    def take(self, names: Sequence[str]) -> dict[str, bytes]:
        need = SALT_BYTES * len(names)
        with self._lock:
            if self._pid != os.getpid() or self._at + need > len(self._buf):
                self._buf, self._at, self._pid = os.urandom(max(self.block, need)), 0, os.getpid()
            at, buf = self._at, self._buf
            self._at = at + need
        return {name: buf[at + i * SALT_BYTES : at + (i + 1) * SALT_BYTES] for i, name in enumerate(names)}


SALT_POOL = SaltPool()


def hex0x(b: bytes) -> str:
    return "0x" + b.hex()


def unhex(text: Any, pattern: re.Pattern[str], what: str) -> bytes:
    if not isinstance(text, str) or not pattern.fullmatch(text):
        raise InvalidInput(f"malformed {what}: {str(text)[:80]!r}")
    return bytes.fromhex(text[2:])


@dataclass(frozen=True)
class Anchor:
    """Where and how a certificate was anchored: the batch root, the Merkle proof, the agency
    key's EIP-712 signature over the root, in the ``sm`` suite the agency's SM2 signature over
    the batch, and (once mined) the transaction."""

    chain_id: int
    registry: str
    root: bytes
    proof: tuple[bytes, ...]
    signature: bytes
    key: str | None = None
    block: int | None = None
    tx: str | None = None
    anchored_at: int | None = None
    sm2_signature: bytes | None = None  # 64 bytes r || s, ``sm`` suite only

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "chainId": self.chain_id,
            "registry": self.registry,
            "root": hex0x(self.root),
            "proof": [hex0x(p) for p in self.proof],
            "signature": hex0x(self.signature),
        }
        if self.sm2_signature is not None:
            out["sm2Signature"] = hex0x(self.sm2_signature)
        for k, v in (("key", self.key), ("block", self.block), ("tx", self.tx), ("anchoredAt", self.anchored_at)):
            if v is not None:
                out[k] = v
        return out

    @classmethod
    def from_json(cls, data: Any) -> Anchor:
        if not isinstance(data, Mapping):
            raise InvalidInput("malformed anchor: expected an object")
        try:
            chain_id = data["chainId"]
            if not isinstance(chain_id, int) or isinstance(chain_id, bool) or chain_id <= 0:
                raise InvalidInput("malformed anchor.chainId")
            registry = data["registry"]
            if not isinstance(registry, str) or not _ADDRESS.fullmatch(registry):
                raise InvalidInput("malformed anchor.registry")
            proof = data.get("proof", [])
            if not isinstance(proof, list) or len(proof) > 64:
                raise InvalidInput("malformed anchor.proof")
            block = data.get("block")
            anchored_at = data.get("anchoredAt")
            return cls(
                chain_id,
                registry,
                unhex(data["root"], _HEX32, "anchor.root"),
                tuple(unhex(p, _HEX32, "proof element") for p in proof),
                unhex(data["signature"], _HEX_SIG, "anchor.signature"),
                data.get("key") if isinstance(data.get("key"), str) else None,
                block if isinstance(block, int) else None,
                data.get("tx") if isinstance(data.get("tx"), str) else None,
                anchored_at if isinstance(anchored_at, int) else None,
                unhex(data["sm2Signature"], _HEX64, "anchor.sm2Signature") if "sm2Signature" in data else None,
            )
        except KeyError as exc:
            raise InvalidInput(f"malformed anchor: missing {exc.args[0]}") from None


@dataclass(frozen=True)
class Certificate:
    """A certificate document, full or disclosed.

    ``fields`` holds the disclosed holder fields (canonical text), ``salts`` one salt per
    disclosed field, ``hidden`` the field hashes of undisclosed fields. ``version`` is the
    format (1: ``certledger/1``, SHA-256, no identifier; 2: ``certledger/2`` in ``suite``).
    """

    type: str
    agency: str
    region: int
    valid_from: str
    valid_until: str | None
    fields: Mapping[str, str]
    salts: Mapping[str, bytes]
    hidden: Mapping[str, bytes] = field(default_factory=dict)
    anchor: Anchor | None = None
    version: int = 1
    suite: str = INTL
    identifier: str | None = None

    def __post_init__(self) -> None:
        if self.version not in (1, 2):
            raise InvalidInput(f"unknown document format version {self.version}")
        if self.suite not in SUITES:
            raise InvalidInput(f"unknown cryptographic suite {self.suite!r}")
        if self.version == 1 and (self.suite != INTL or self.identifier is not None):
            raise InvalidInput("a certledger/1 certificate is SHA-256 (suite intl) and has no identifier")

    @property
    def format(self) -> str:
        return FORMAT_V2 if self.version == 2 else FORMAT_V1

    # ------------------------------------------------------------------ hashing

    def entries(self) -> dict[str, str]:
        """Every disclosed entry, metadata first, as hashed."""
        out = {
            "$type": self.type,
            "$agency": self.agency,
            "$region": str(self.region),
            "$validFrom": self.valid_from,
            "$validUntil": self.valid_until or "",
        }
        if self.version == 2:
            out["$identifier"] = self.identifier or ""
        out.update(self.fields)
        return out

    def metadata(self) -> Metadata:
        return Metadata(
            self.suite, self.type, self.agency, self.region, self.valid_from, self.valid_until, self.identifier
        )

    def field_hashes(self) -> dict[str, bytes]:
        """The field hashes: in ``certledger/1`` of every entry, metadata included; in
        ``certledger/2`` of the holder fields only (the metadata go into metaDigest)."""
        if self.version == 2:
            h = suite_hash(self.suite)
            out = {name: field_hash_v2(h, name, value, self.salts[name]) for name, value in self.fields.items()}
        else:
            out = {
                name: field_hash(name, value, META_SALT if name.startswith("$") else self.salts[name])
                for name, value in self.entries().items()
            }
        out.update(self.hidden)
        return out

    def holder_digest(self) -> bytes:
        """holderDigest (``certledger/2`` only)."""
        if self.version != 2:
            raise InvalidInput("a certledger/1 certificate has no holder digest")
        return holder_digest(suite_hash(self.suite), self.field_hashes().values())

    def compute_hash(self) -> bytes:
        if self.version == 2:
            h = suite_hash(self.suite)
            meta = meta_digest(
                h,
                (
                    self.type,
                    self.agency,
                    str(self.region),
                    self.valid_from,
                    self.valid_until or "",
                    self.identifier or "",
                ),
            )
            return certificate_hash_v2(h, meta, holder_digest(h, self.field_hashes().values()))
        return certificate_hash(self.field_hashes().values())

    def computed_root(self, cert_hash: bytes | None = None) -> bytes | None:
        """The batch root the proof leads to from this certificate's hash (None if not anchored)."""
        if self.anchor is None:
            return None
        return root_from_proof(cert_hash if cert_hash is not None else self.compute_hash(), self.anchor.proof)

    @property
    def is_disclosed(self) -> bool:
        return bool(self.hidden)

    # ------------------------------------------------------------------ disclosure

    def disclose(self, names: Iterable[str]) -> Certificate:
        """A copy showing only ``names`` of the holder's fields; the others become hashes.
        Metadata entries are always shown: verification needs them."""
        keep = list(dict.fromkeys(names))
        unknown = [n for n in keep if n not in self.fields and n not in self.hidden]
        if unknown:
            raise InvalidInput(f"no field {', '.join(map(repr, unknown))} in this certificate")
        already_hidden = [n for n in keep if n in self.hidden]
        if already_hidden:
            raise InvalidInput(f"field {', '.join(map(repr, already_hidden))} is already hidden in this document")
        hashes = self.field_hashes()
        shown = {n: v for n, v in self.fields.items() if n in keep}
        hidden = {n: hashes[n] for n in list(self.fields) + list(self.hidden) if n not in shown}
        salts = {n: s for n, s in self.salts.items() if n in shown}
        return replace(self, fields=shown, salts=salts, hidden=hidden)

    # ------------------------------------------------------------------ JSON

    def to_json(self, cert_hash: bytes | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"format": self.format}
        if self.version == 2:
            out["suite"] = self.suite
        out["type"] = self.type
        if self.identifier is not None:
            out["identifier"] = self.identifier
        out |= {
            "issuer": {"agency": self.agency, "region": self.region},
            "validFrom": self.valid_from,
            "validUntil": self.valid_until,
            "fields": dict(self.fields),
            "salts": {k: hex0x(v) for k, v in self.salts.items()},
        }
        if self.hidden:
            out["hidden"] = {k: hex0x(v) for k, v in self.hidden.items()}
        out["hash"] = hex0x(cert_hash if cert_hash is not None else self.compute_hash())
        if self.anchor is not None:
            out["anchor"] = self.anchor.to_json()
        return out

    @classmethod
    def from_json(cls, data: Any) -> tuple[Certificate, bytes | None]:
        """Parse a document; returns it with the hash it states (None if it states none).

        Structure is checked strictly (a clear InvalidInput for anything malformed); whether
        the stated hash is right is for the verifier to decide.
        """
        if not isinstance(data, Mapping):
            raise InvalidInput("a certificate document must be a JSON object")
        fmt = data.get("format")
        if fmt not in FORMATS:
            raise InvalidInput(f"unsupported document format {str(fmt)[:40]!r} (expected {FORMAT_V2} or {FORMAT_V1})")
        version = 2 if fmt == FORMAT_V2 else 1
        claimed_suite = data.get("suite")
        if version == 1:
            # certledger/1 is SHA-256 with no identifier: a suite or identifier it claims would be
            # shown as if the hash covered them, so it is refused, never reinterpreted as v2
            if claimed_suite is not None and claimed_suite != INTL:
                raise InvalidInput(
                    f"a {FORMAT_V1} document is SHA-256 (suite intl), but this one claims suite "
                    f"{str(claimed_suite)[:16]!r}: it was altered or mislabelled"
                )
            if data.get("identifier") is not None:
                raise InvalidInput(f"a {FORMAT_V1} document has no identifier (its hash would not cover it)")
            doc_suite = INTL
            identifier = None
        else:
            if not isinstance(claimed_suite, str) or claimed_suite not in SUITES:
                raise InvalidInput(
                    f"malformed suite {str(claimed_suite)[:16]!r}: a {FORMAT_V2} document names its suite, "
                    f"one of {', '.join(SUITES)}"
                )
            doc_suite = claimed_suite
            identifier = data.get("identifier")
            if identifier is not None and (not isinstance(identifier, str) or not _IDENTIFIER.fullmatch(identifier)):
                raise InvalidInput(f"malformed identifier {str(identifier)[:60]!r}")
        try:
            issuer = data["issuer"]
            if not isinstance(issuer, Mapping):
                raise InvalidInput("malformed issuer")
            fields = data.get("fields") or {}
            salts = data.get("salts") or {}
            hidden = data.get("hidden") or {}
            if not all(isinstance(x, Mapping) for x in (fields, salts, hidden)):
                raise InvalidInput("fields, salts and hidden must be objects")
            if len(fields) + len(hidden) > 256:
                raise InvalidInput("too many fields")
            for name, value in fields.items():
                if (
                    not isinstance(name, str)
                    or not FIELD_NAME_RE.fullmatch(name)
                    or not isinstance(value, str)
                    or len(value) > 4096
                ):
                    raise InvalidInput(f"malformed field {str(name)[:40]!r}")
            for name in hidden:
                if not isinstance(name, str) or not FIELD_NAME_RE.fullmatch(name) or name in fields:
                    raise InvalidInput(f"malformed hidden field {str(name)[:40]!r}")
            agency = issuer["agency"]
            if not isinstance(agency, str) or not agency or len(agency) > 32:
                raise InvalidInput("malformed issuer.agency")
            cert_type = data["type"]
            if not isinstance(cert_type, str) or not cert_type or len(cert_type) > 32:
                raise InvalidInput("malformed type")
            try:
                valid_from = canonical_date(data["validFrom"])
                until = data.get("validUntil")
                valid_until = canonical_date(until) if until else None
            except FieldError as exc:
                raise InvalidInput(f"malformed validity date: {exc}") from None
            parsed_salts = {k: unhex(v, _SALT, f"salt of {k}") for k, v in salts.items()}
            needed = set(fields)
            missing = sorted(needed - set(parsed_salts))
            if missing:
                raise InvalidInput(f"missing salt for {', '.join(missing)}")
            extra = sorted(set(parsed_salts) - needed)
            if extra:
                raise InvalidInput(f"salt for unknown entry {', '.join(extra)}")
            cert = cls(
                type=cert_type,
                agency=agency,
                region=region_code(issuer["region"]),
                valid_from=valid_from,
                valid_until=valid_until,
                fields={k: nfc(v) for k, v in fields.items()},  # NFC is idempotent: a genuine document is unchanged
                salts=parsed_salts,
                hidden={k: unhex(v, _HEX32, f"hidden field hash of {k}") for k, v in hidden.items()},
                anchor=Anchor.from_json(data["anchor"]) if data.get("anchor") is not None else None,
                version=version,
                suite=doc_suite,
                identifier=identifier,
            )
            stated = unhex(data["hash"], _HEX32, "hash") if data.get("hash") is not None else None
            return cert, stated
        except KeyError as exc:
            raise InvalidInput(f"malformed document: missing {exc.args[0]}") from None


def load_document(path: Path) -> tuple[Certificate, bytes | None]:
    """A certificate document from a JSON file, with the hash it states."""
    try:
        data = orjson.loads(Path(path).read_bytes())
    except FileNotFoundError:
        raise InvalidInput(f"no such file: {path}") from None
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"{Path(path).name}: not JSON ({exc.msg})") from None
    return Certificate.from_json(data)
