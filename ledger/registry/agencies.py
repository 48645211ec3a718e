"""The AgencyRegistry contract: agencies of each region, the types they may issue, and their
signing keys with their life cycle."""

from __future__ import annotations

from collections.abc import Sequence

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from ..chain import SentTransaction
from ..contracts import KeyState
from ..ids import agency_id, region_code, text_of, type_id
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
        return AgencyInfo(code, a.region, a.suspended, a.registered_at, types, keys, enabled)

    def agency_region(self, code: str) -> int | None:
        a = AgencyStruct(*self.chain.call(self.agencies.functions.agency(agency_id(code))))
        return int(a.region) if a.registered_at else None

    def agency_codes(self) -> list[str]:
        return [text_of(a) for a in self.chain.call(self.agencies.functions.agencyIds())]

    def agencies_list(self, region: int | None = None) -> list[AgencyInfo]:
        out = [a for a in (self.agency(c) for c in self.agency_codes()) if a is not None]
        return [a for a in out if region is None or a.region == region]

    # ------------------------------------------------------------------ keys

    def add_key(self, admin: LocalAccount, agency: str, address: str, active_from: int = 0) -> SentTransaction:
        fn = self.agencies.functions.addKey(agency_id(agency), to_checksum_address(address), int(active_from))
        return self.chain.transact(admin, fn)

    def retire_key(self, admin: LocalAccount, address: str, at: int = 0) -> SentTransaction:
        return self.chain.transact(admin, self.agencies.functions.retireKey(to_checksum_address(address), int(at)))

    def rotate_key(self, admin: LocalAccount, old: str, new: str) -> SentTransaction:
        fn = self.agencies.functions.rotateKey(to_checksum_address(old), to_checksum_address(new))
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
        return KeyInfo(address, agency, k.active_from, k.retired_at, k.compromised_since, state, enabled)

    def key_state_at(self, address: str, at: int) -> KeyState:
        return KeyState(self.chain.call(self.agencies.functions.keyStateAt(to_checksum_address(address), int(at))))
