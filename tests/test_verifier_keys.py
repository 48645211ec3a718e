"""API keys of registered verifier organisations: what authenticates (the key its region
registered, while the organisation stands), what never does, and the rate each one gets."""

from __future__ import annotations

import pytest
from eth_account import Account
from helpers import Consortium, FakeClock

from ledger.verifiers import NotAuthorized, RateLimited, VerifierDirectory, api_key_hash, new_api_key

ZJ, GD = 330000, 440000


@pytest.fixture
def directory(consortium: Consortium) -> tuple[Consortium, VerifierDirectory, FakeClock, str]:
    key = new_api_key("ZJ-BANK-1")
    consortium.registry.register_verifier(
        consortium.admins[ZJ], "ZJ-BANK-1", ZJ, Account.create().address, api_key_hash(key), rate_per_minute=3
    )
    clock = FakeClock()
    return consortium, VerifierDirectory(consortium.registry, clock=clock), clock, key


def test_the_registered_key_authenticates_and_nothing_else_does(directory) -> None:
    c, d, clock, key = directory
    info = d.authenticate(key)
    assert (info.id, info.region, info.role) == ("ZJ-BANK-1", ZJ, "VERIFIER")
    forged = key[:-1] + ("A" if key[-1] != "A" else "B")
    other = new_api_key("ZJ-BANK-1")  # a well-formed key its region never registered
    unknown = new_api_key("ZJ-NOBODY")
    for bad in (forged, other, unknown, "clv_ZJ-BANK-1", "Bearer " + key, "", "x" * 80):
        with pytest.raises(NotAuthorized):
            d.authenticate(bad)
    # a new key: the old one stops once the cached registration is read again
    new = new_api_key("ZJ-BANK-1")
    c.registry.update_verifier(c.admins[ZJ], "ZJ-BANK-1", api_key_hash=api_key_hash(new))
    assert d.authenticate(key).id == "ZJ-BANK-1"  # cached for 30 s
    clock.advance(31)
    with pytest.raises(NotAuthorized):
        d.authenticate(key)
    assert d.authenticate(new).id == "ZJ-BANK-1"
    # suspended by its region: refused
    c.registry.update_verifier(c.admins[ZJ], "ZJ-BANK-1", suspended=True)
    clock.advance(31)
    with pytest.raises(NotAuthorized):
        d.authenticate(new)


def test_each_organisation_gets_its_rate(directory) -> None:
    _, d, clock, key = directory
    info = d.authenticate(key)
    for _ in range(3):
        d.take(info)
    with pytest.raises(RateLimited) as limited:
        d.take(info)
    assert 0 < limited.value.retry_after <= 20
    clock.advance(20)  # 3 a minute: one more after 20 s
    d.take(info)
    with pytest.raises(RateLimited):
        d.take(info)


def test_a_key_names_a_valid_verifier_id() -> None:
    from ledger.errors import InvalidInput

    with pytest.raises(InvalidInput):
        new_api_key("not valid!")
    assert new_api_key("GD-HOTEL-7").startswith("clv_GD-HOTEL-7_")
