"""E-licence identifiers (GB/T 36904-2018) and credit codes (GB 32100-2015): a production
identifier validates; every tampered segment fails naming that segment; the check algorithms
agree with python-stdnum's independent implementations."""

from __future__ import annotations

import random
import string

import pytest
from stdnum.cn import uscc as stdnum_uscc
from stdnum.iso7064 import mod_37_36 as stdnum_mod_37_36

from ledger.errors import InvalidInput
from ledger.gbt import identifier as gid
from ledger.gbt.identifier import IdentifierError, LicenceIdentifier, build, parse

pytestmark = pytest.mark.unit

REAL = "1.2.156.3005.2.11100000000013338W009.11330105002500287C.2025052201.002.0"
# A second published one (a ministry's interface example): same algorithm, check 'U'.
REAL_2 = "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U"

TYPE = "11100000000013338W009"
ISSUER = "11330105002500287C"


def test_real_identifier_parses() -> None:
    ident = parse(REAL)
    assert ident == LicenceIdentifier(TYPE, ISSUER, "2025052201", "002", "0")
    assert ident.authority_code == "11100000000013338W"
    assert ident.type_number == "009"
    assert ident.version_number == 2
    assert ident.body == "11100000000013338W00911330105002500287C2025052201002"
    assert str(ident) == ident.format() == gid.format_identifier(ident) == REAL
    assert parse("  " + REAL + "\n") == ident
    assert gid.is_valid(REAL) and gid.is_valid(REAL_2)


def test_build_computes_the_check_character() -> None:
    assert build(TYPE, ISSUER, "2025052201", 2) == parse(REAL)
    assert build(TYPE, ISSUER, "2025052201", "002").check == "0"
    first = build(TYPE, ISSUER, "A1B2C3", 1)
    assert first.version == "001"
    assert parse(str(first)) == first
    assert first.next_version() == build(TYPE, ISSUER, "A1B2C3", 2)
    assert build(TYPE, ISSUER, "Z" * gid.SERIAL_MAX_LENGTH, 999).version == "999"


def _replace_segment(text: str, index: int, value: str) -> str:
    parts = text.split(".")
    parts[5 + index] = value
    return ".".join(parts)


@pytest.mark.parametrize(
    "tampered, segment, message",
    [
        # a credit code's own check character: caught before the identifier's check
        (_replace_segment(REAL, 0, "11100000000013338X009"), "type", "check character is 'X', expected 'W'"),
        (_replace_segment(REAL, 1, "11330105002500287D"), "issuer", "check character is 'D', expected 'C'"),
        # a credit-code body character: its check no longer matches
        (_replace_segment(REAL, 0, "11100000000013339W009"), "type", "expected"),
        (_replace_segment(REAL, 1, "11330105002500288C"), "issuer", "expected"),
        # the type number, serial, version: the identifier's check character catches them
        (_replace_segment(REAL, 0, "11100000000013338W008"), "check", "expected"),
        (_replace_segment(REAL, 2, "2025052202"), "check", "expected 'K'"),
        (_replace_segment(REAL, 3, "003"), "check", "expected 'Y'"),
        (_replace_segment(REAL, 4, "1"), "check", "'1': expected '0'"),
        # shapes
        (REAL.replace("1.2.156.3005.2.", "1.2.156.3005.3.", 1), "root", "does not start with 1.2.156.3005.2."),
        (_replace_segment(REAL, 0, "11100000000013338W09"), "type", "20 characters"),
        (_replace_segment(REAL, 0, "11100000000013338W00A"), "type", "'00A' must be digits"),
        (_replace_segment(REAL, 1, "11330105002500287"), "issuer", "17 characters"),
        (_replace_segment(REAL, 1, "1133010500250028IC"), "issuer", "'I' at 17 outside the alphabet"),
        (_replace_segment(REAL, 1, "113A0105002500287C"), "issuer", "positions 3-8"),
        (_replace_segment(REAL, 2, "2025052201a"), "serial", "upper-case"),
        (_replace_segment(REAL, 2, "2025-05"), "serial", "digits or upper-case"),
        (_replace_segment(REAL, 2, ""), "serial", "1-32"),
        (_replace_segment(REAL, 2, "1" * 33), "serial", "1-32"),
        (_replace_segment(REAL, 3, "02"), "version", "3 digits"),
        (_replace_segment(REAL, 3, "000"), "version", "start at 001"),
        (_replace_segment(REAL, 4, "00"), "check", "one character"),
        (_replace_segment(REAL, 4, "a"), "check", "one character"),
        (_replace_segment(REAL, 4, "*"), "check", "one character"),
    ],
)
def test_tampered_identifiers_fail_naming_the_segment(tampered: str, segment: str, message: str) -> None:
    with pytest.raises(IdentifierError, match=message) as caught:
        parse(tampered)
    assert caught.value.segment == segment
    assert gid.SEGMENTS[segment] in str(caught.value) or segment == "check"
    assert not gid.is_valid(tampered)


@pytest.mark.parametrize(
    "text, message",
    [
        (REAL + ".X", "6 segments after the root"),
        (REAL.rsplit(".", 1)[0], "4 segments after the root"),
        ("1.2.156.3005.2", "does not start with"),
        ("", "does not start with"),
    ],
)
def test_wrong_number_of_segments(text: str, message: str) -> None:
    with pytest.raises(IdentifierError, match=message):
        parse(text)


def test_every_single_character_substitution_is_caught() -> None:
    """MOD 37,36 and the credit-code check detect every single substitution."""
    alphabet = gid.MOD37_36_ALPHABET
    parts = REAL.split(".")
    for seg in range(5, 10):
        for pos, original in enumerate(parts[seg]):
            for replacement in alphabet:
                if replacement == original:
                    continue
                trial = list(parts)
                trial[seg] = parts[seg][:pos] + replacement + parts[seg][pos + 1 :]
                assert not gid.is_valid(".".join(trial)), (seg, pos, replacement)


def test_adjacent_transpositions_are_caught() -> None:
    body = parse(REAL).body
    for i in range(len(body) - 1):
        if body[i] != body[i + 1]:
            swapped = body[:i] + body[i + 1] + body[i] + body[i + 2 :]
            assert gid.mod37_36_check(swapped) != "0" or swapped == body


def test_direct_construction_validates() -> None:
    with pytest.raises(IdentifierError, match="expected '0'") as caught:
        LicenceIdentifier(TYPE, ISSUER, "2025052201", "002", "1")
    assert caught.value.segment == "check"
    with pytest.raises(IdentifierError, match="expected text"):
        LicenceIdentifier(TYPE, ISSUER, "2025052201", 2, "0")  # type: ignore[arg-type]
    with pytest.raises(IdentifierError) as caught:
        LicenceIdentifier(TYPE, "X", "1", "001", "0")
    assert caught.value.segment == "issuer"


def test_build_rejects_bad_parts() -> None:
    for version in (0, 1000, True, "1", "0001"):
        with pytest.raises(IdentifierError) as caught:
            build(TYPE, ISSUER, "1", version)  # type: ignore[arg-type]
        assert caught.value.segment == "version"
    with pytest.raises(IdentifierError) as caught:
        build(TYPE, ISSUER, "abc")
    assert caught.value.segment == "serial"
    with pytest.raises(IdentifierError) as caught:
        build("11100000000013338W", ISSUER, "1")
    assert caught.value.segment == "type"
    with pytest.raises(IdentifierError, match="expected text"):
        parse(None)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- check algorithms


def test_mod37_36_agrees_with_python_stdnum() -> None:
    rng = random.Random(36)
    alphabet = string.digits + string.ascii_uppercase
    for _ in range(5000):
        body = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 80)))
        assert gid.mod37_36_check(body) == stdnum_mod_37_36.calc_check_digit(body), body
    assert stdnum_mod_37_36.is_valid(parse(REAL).body + "0")
    with pytest.raises(IdentifierError, match="outside the MOD 37,36 alphabet"):
        gid.mod37_36_check("ab")


def test_uscc_check_agrees_with_python_stdnum() -> None:
    rng = random.Random(31)
    for _ in range(5000):
        first17 = "".join(rng.choice(string.digits) for _ in range(8)) + "".join(
            rng.choice(gid.USCC_ALPHABET) for _ in range(9)
        )
        code = first17 + gid.uscc_check(first17)
        assert stdnum_uscc.calc_check_digit(first17) == code[17]
        assert stdnum_uscc.is_valid(code) and gid.is_valid_uscc(code)


def test_uscc_known_codes_and_letter_authorities() -> None:
    for code in ("91110000600037341L", "11100000000013338W", "11330105002500287C", "11430000006122244L"):
        assert gid.validate_uscc(code) == code
    # GB 32100 registration authorities may be letters (A, N, Y): python-stdnum rejects these
    first17 = "N2330100MA2ABCD01"
    code = first17 + gid.uscc_check(first17)
    assert gid.is_valid_uscc(code)
    assert not stdnum_uscc.is_valid(code)
    for bad, message in (
        ("91110000600037341M", "expected 'L'"),
        ("9111000060003734", "16 characters"),
        ("91110000600037341l", "outside the alphabet"),
        ("9111000O600037341L", "'O' at 8 outside"),
        ("911A0000600037341L", "positions 3-8"),
    ):
        with pytest.raises(IdentifierError, match=message):
            gid.validate_uscc(bad, "holder code")
    with pytest.raises(IdentifierError, match="17 characters"):
        gid.uscc_check("123")
    with pytest.raises(IdentifierError, match="outside the credit-code alphabet"):
        gid.uscc_check("1234567812345678I")
    with pytest.raises(IdentifierError, match="expected text"):
        gid.validate_uscc(123)  # type: ignore[arg-type]


def test_errors_are_invalid_input() -> None:
    assert issubclass(IdentifierError, InvalidInput)
