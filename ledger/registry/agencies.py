"""The AgencyRegistry contract: agencies of each region, the types they may issue, and their
signing keys with their life cycle."""

from __future__ import annotations

from collections.abc import Sequence

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from ..chain import SentTransaction
from ..contracts import KeyState
from ..errors import InvalidInput
from ..ids import agency_id, credit_code_text, region_code, text_of, type_id
from .base import RegistryBase
from .results import AgencyInfo, AgencyStruct, KeyInfo, KeyStruct


class AgenciesApi(RegistryBase):
    # ------------------------------------------------------------------ agencies

    def register_agency(
        self, admin: LocalAccount, code: str, region: int | str, types: Sequence[str]
    ) -> SentTransaction:
        fn = self.agencies.functions.registerAgency(agency_id(code), region_code(region), [type_id(t) for t in types])
        return self.chain.transact(admin, fn)

    def set_agency_types(self, admin: LocalAccount, code: str, types: Sequence[str], allowed: bool) -> SentTransaction:
        fn = self.agencies.functions.setAgencyTypes(agency_id(code), [type_id(t) for t in types], allowed)
        return self.chain.transact(admin, fn)

    def suspend_agency(self, admin: LocalAccount, code: str) -> SentTransaction:
        return self.chain.transact(admin, self.agencies.functions.suspendAgency(agency_id(code)))

    def reactivate_agency(self, admin: LocalAccount, code: str) -> SentTransaction:
        """Lift an agency's suspension, or enable it again after its region was re-admitted."""
        return self.chain.transact(admin, self.agencies.functions.reactivateAgency(agency_id(code)))

    def agency(self, code: str) -> AgencyInfo | None:
        aid = agency_id(code)
        a = AgencyStruct(*self.chain.call(self.agencies.functions.agency(aid)))
        if a.registered_at == 0:
            return None
        type_ids = self.chain.call(self.consortium.functions.typeIds())
        types = [text_of(t) for t in type_ids if self.chain.call(self.agencies.functions.isTypeAllowed(aid, t))]
        keys = [self.key(log["args"]["key"]) for log in self._logs(self.agencies.events.KeyAdded(), agency=aid)]
        enabled = bool(self.chain.call(self.agencies.functions.agencyEnabled(aid)))
        credit = self.credit_code(code)
        return AgencyInfo(code, a.region, a.suspended, a.registered_at, types, keys, enabled, credit)

    def set_agency_credit_code(self, admin: LocalAccount, code: str, credit_code: str) -> SentTransaction:
        """Record the agency's unified social credit code (checked here under GB 32100-2015)."""
        from ..gbt.identifier import validate_uscc

        valid = validate_uscc(credit_code)
        fn = self.agencies.functions.setAgencyCreditCode(agency_id(code), valid.encode("ascii"))
        return self.chain.transact(admin, fn)

    def credit_code(self, code: str) -> str | None:
        return credit_code_text(self.chain.call(self.agencies.functions.creditCode(agency_id(code))))

    def agency_region(self, code: str) -> int | None:
        a = AgencyStruct(*self.chain.call(self.agencies.functions.agency(agency_id(code))))
        return int(a.region) if a.registered_at else None

    def agency_codes(self) -> list[str]:
        return [text_of(a) for a in self.chain.call(self.agencies.functions.agencyIds())]

    def agencies_list(self, region: int | None = None) -> list[AgencyInfo]:
        out = [a for a in (self.agency(c) for c in self.agency_codes()) if a is not None]
        return [a for a in out if region is None or a.region == region]

    # ------------------------------------------------------------------ keys

    def add_key(
        self, admin: LocalAccount, agency: str, address: str, active_from: int = 0, sm2_public_key: bytes = b""
    ) -> SentTransaction:
        """Register ``address`` as a key of ``agency``, with its SM2 public key (required in the
        sm suite; 64 bytes x || y, or 65 bytes 04 || x || y)."""
        fn = self.agencies.functions.addKey(
            agency_id(agency), to_checksum_address(address), int(active_from), sm2_key_bytes(sm2_public_key)
        )
        return self.chain.transact(admin, fn)

    def retire_key(self, admin: LocalAccount, address: str, at: int = 0) -> SentTransaction:
        return self.chain.transact(admin, self.agencies.functions.retireKey(to_checksum_address(address), int(at)))

    def rotate_key(self, admin: LocalAccount, old: str, new: str, sm2_public_key: bytes = b"") -> SentTransaction:
        fn = self.agencies.functions.rotateKey(
            to_checksum_address(old), to_checksum_address(new), sm2_key_bytes(sm2_public_key)
        )
        return self.chain.transact(admin, fn)

    def report_compromised(self, admin: LocalAccount, address: str, since: int) -> SentTransaction:
        """A region admin reports a key of its region compromised since ``since`` (0 = ever)."""
        fn = self.agencies.functions.reportKeyCompromised(to_checksum_address(address), int(since))
        return self.chain.transact(admin, fn)

    def report_own_compromise(self, key: LocalAccount) -> SentTransaction:
        """The key reports itself compromised from now on (a key can never backdate)."""
        return self.chain.transact(key, self.agencies.functions.reportOwnKeyCompromised())

    def enable_key(self, admin: LocalAccount, address: str) -> SentTransaction:
        """Re-enable a key after its region was removed and admitted again."""
        return self.chain.transact(admin, self.agencies.functions.enableKey(to_checksum_address(address)))

    def key(self, address: str) -> KeyInfo:
        address = to_checksum_address(address)
        k = KeyStruct(*self.chain.call(self.agencies.functions.key(address)))
        state = KeyState(self.chain.call(self.agencies.functions.keyStateAt(address, self.now())))
        enabled = bool(self.chain.call(self.agencies.functions.keyEnabled(address)))
        agency = text_of(k.agency) if any(k.agency) else ""
        sm2 = self.sm2_public_key(address)
        return KeyInfo(address, agency, k.active_from, k.retired_at, k.compromised_since, state, enabled, sm2)

    def sm2_public_key(self, address: str) -> bytes:
        """The SM2 public key (x || y) registered with the key, or b"" when none."""
        return bytes(self.chain.call(self.agencies.functions.sm2PublicKey(to_checksum_address(address))))

    def key_state_at(self, address: str, at: int) -> KeyState:
        return KeyState(self.chain.call(self.agencies.functions.keyStateAt(to_checksum_address(address), int(at))))


def sm2_key_bytes(key: object) -> bytes:
    """An SM2 public key as the contract stores it: x || y (64 bytes). Takes those bytes, the
    65-byte 04 || x || y form, an SM2PublicKey, or empty (no key). Other lengths pass through
    unchanged, for the contract to refuse."""
    if key is None or key == b"":
        return b""
    if hasattr(key, "to_bytes") and not isinstance(key, bytes | bytearray | int):
        return bytes(key.to_bytes())[1:]
    if not isinstance(key, bytes | bytearray):
        raise InvalidInput("an SM2 public key is bytes")
    raw = bytes(key)
    return raw[1:] if len(raw) == 65 and raw[0] == 4 else raw
