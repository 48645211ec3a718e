"""National e-licence identifiers (电子证照标识, GB/T 36904-2018) and the unified social credit
code they are built from (统一社会信用代码, GB 32100-2015).

An identifier has six dot-separated parts::

    1.2.156.3005.2 . 11100000000013338W009 . 11330105002500287C . 2025052201 . 002 . 0
    root (OID)       type code (21)          issuer code (18)     serial       version check

* root -- ``1.2.156.3005.2``, the OID arc of Chinese e-licences (电子证照根代码).
* type code (证照类型代码) -- the 18-character credit code of the authority that defines the
  licence type, then a 3-digit number it assigns to the type.
* issuer code (证照颁发机构代码) -- the 18-character credit code of the issuing agency.
* serial (流水号) -- chosen by the issuer to tell its licences of one type apart. The check
  algorithm is defined over digits and upper-case Latin letters, so that is the alphabet; the
  length is ours to bound: 1-32 characters (32 = a UUID's hex digits, the longest in use).
* version (版本号) -- 3 digits, ``001`` for a first issue, incremented on re-issue.
* check (校验位) -- ISO/IEC 7064 MOD 37,36 (a hybrid system over ``0-9A-Z``) computed over the
  type code, issuer code, serial and version concatenated without the dots.

Both credit codes carry their own GB 32100-2015 check character (position 18: weights
3^i mod 31 over the 31-character alphabet ``0-9A-Z`` without I, O, S, V, Z), which is checked too.
``parse`` reports the first problem in reading order, naming the segment; ``build`` computes
the check character.

The two check algorithms are implemented here (a dozen lines each) rather than imported:
python-stdnum has both (``stdnum.iso7064.mod_37_36``, ``stdnum.cn.uscc``) and the tests
cross-check against it, but its credit-code parser insists on digits in the first two
positions, which GB 32100 allows to be letters (registration authorities A, N, Y).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from ..errors import InvalidInput

ROOT: Final = "1.2.156.3005.2"
USCC_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
MOD37_36_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
SERIAL_MAX_LENGTH: Final = 32

SEGMENTS: Final = {
    "root": "root (电子证照根代码)",
    "type": "type code (证照类型代码)",
    "issuer": "issuer code (证照颁发机构代码)",
    "serial": "serial (流水号)",
    "version": "version (版本号)",
    "check": "check character (校验位)",
}

_USCC_SHAPE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$")
_SERIAL = re.compile(rf"^[0-9A-Z]{{1,{SERIAL_MAX_LENGTH}}}$")
_VERSION = re.compile(r"^[0-9]{3}$")
_USCC_INDEX: Final = {c: i for i, c in enumerate(USCC_ALPHABET)}
_MOD_INDEX: Final = {c: i for i, c in enumerate(MOD37_36_ALPHABET)}


class IdentifierError(InvalidInput):
    """An identifier or credit code that does not conform. ``segment`` is one of the keys of
    ``SEGMENTS`` (``root``, ``type``, ``issuer``, ``serial``, ``version``, ``check``) or None
    when the shape as a whole is wrong."""

    def __init__(self, message: str, segment: str | None = None) -> None:
        super().__init__(message)
        self.segment = segment


# --------------------------------------------------------------------------- check characters


def mod37_36_state(body: str, p: int = 36) -> int:
    """The MOD 37,36 running state after ``body``, from state ``p`` (36 at the start): the check
    of a prefix's continuations can start from the prefix's state."""
    for ch in body:
        value = _MOD_INDEX.get(ch)
        if value is None:
            raise IdentifierError(f"{ch!r} is outside the MOD 37,36 alphabet (0-9, A-Z)")
        s = (p + value) % 36 or 36
        p = (2 * s) % 37
    return p


def mod37_36_finish(p: int) -> str:
    """The check character for the running state ``p``."""
    return MOD37_36_ALPHABET[(37 - p) % 36]


def mod37_36_check(body: str) -> str:
    """ISO/IEC 7064 MOD 37,36 check character of ``body`` (digits and upper-case letters)."""
    return mod37_36_finish(mod37_36_state(body))


@lru_cache(maxsize=1024)  # a ledger's few agencies and type authorities: every identifier names two
def uscc_check(first17: str) -> str:
    """GB 32100-2015 check character (position 18) of a credit code's first 17 characters."""
    if len(first17) != 17:
        raise IdentifierError(f"a credit code has 17 characters before its check, not {len(first17)}")
    try:
        total = sum(_USCC_INDEX[c] * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    except KeyError as exc:
        raise IdentifierError(f"{exc.args[0]!r} is outside the credit-code alphabet") from None
    return USCC_ALPHABET[(31 - total % 31) % 31]


def validate_uscc(
    code: str, what: str = "unified social credit code (统一社会信用代码)", *, segment: str | None = None
) -> str:
    """Check a unified social credit code (GB 32100-2015): 18 characters of the code alphabet,
    positions 3-8 digits (the registering authority's region), and the check character.
    Returns the code; raises ``IdentifierError`` naming ``what``."""
    if not isinstance(code, str):
        raise IdentifierError(f"{what}: expected text", segment)
    if len(code) != 18:
        raise IdentifierError(f"{what} {code!r}: {len(code)} characters, a credit code has 18", segment)
    if not _USCC_SHAPE.fullmatch(code):
        bad = [f"{c!r} at {i + 1}" for i, c in enumerate(code) if c not in _USCC_INDEX]
        reason = (
            f"{', '.join(bad)} outside the alphabet 0-9 A-Z without I O S V Z"
            if bad
            else "positions 3-8 (region code) must be digits"
        )
        raise IdentifierError(f"{what} {code!r}: {reason} (GB 32100-2015)", segment)
    expected = uscc_check(code[:17])
    if code[17] != expected:
        raise IdentifierError(
            f"{what} {code!r}: check character is {code[17]!r}, expected {expected!r} (GB 32100-2015)", segment
        )
    return code


def is_valid_uscc(code: str) -> bool:
    try:
        validate_uscc(code)
    except IdentifierError:
        return False
    return True


# --------------------------------------------------------------------------- segments


def validate_type_code(code: str) -> str:
    """A licence type code (证照类型代码): the defining authority's credit code + 3 digits."""
    what = SEGMENTS["type"]
    if not isinstance(code, str) or len(code) != 21:
        shown = f"{code!r}: {len(code)} characters" if isinstance(code, str) else "expected text"
        raise IdentifierError(f"{what} {shown}; expected 21 (an 18-character credit code + 3 digits)", "type")
    validate_uscc(code[:18], f"{what} {code!r}: the defining authority's credit code", segment="type")
    if not code[18:].isascii() or not code[18:].isdigit():
        raise IdentifierError(f"{what} {code!r}: the last 3 characters {code[18:]!r} must be digits", "type")
    return code


def validate_issuer_code(code: str) -> str:
    """An issuer code (证照颁发机构代码): the issuing agency's credit code."""
    return validate_uscc(code, SEGMENTS["issuer"], segment="issuer")


def validate_serial(serial: str) -> str:
    what = SEGMENTS["serial"]
    if not isinstance(serial, str) or not _SERIAL.fullmatch(serial):
        raise IdentifierError(
            f"{what} {serial!r}: expected 1-{SERIAL_MAX_LENGTH} digits or upper-case letters A-Z", "serial"
        )
    return serial


def _version_text(version: int | str) -> str:
    what = SEGMENTS["version"]
    if isinstance(version, int) and not isinstance(version, bool):
        if not 1 <= version <= 999:
            raise IdentifierError(f"{what} {version}: must be 1-999", "version")
        return f"{version:03d}"
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        raise IdentifierError(f"{what} {version!r}: expected 3 digits, e.g. 001", "version")
    if version == "000":
        raise IdentifierError(f"{what} '000': versions start at 001", "version")
    return version


# --------------------------------------------------------------------------- the identifier


@dataclass(frozen=True)
class LicenceIdentifier:
    """A parsed, valid e-licence identifier (GB/T 36904-2018). Build one with ``build`` or
    ``parse``; constructing it directly validates every segment too."""

    type_code: str
    issuer_code: str
    serial: str
    version: str
    check: str

    def __post_init__(self) -> None:
        validate_type_code(self.type_code)
        validate_issuer_code(self.issuer_code)
        validate_serial(self.serial)
        _version_text(self.version)
        if not isinstance(self.version, str):
            raise IdentifierError(f"{SEGMENTS['version']}: expected text such as '001'", "version")
        expected = mod37_36_check(self.body)
        if self.check != expected:
            raise IdentifierError(
                f"{SEGMENTS['check']} {self.check!r}: expected {expected!r} (ISO/IEC 7064 MOD 37,36 over "
                f"{self.body}); a segment was altered or mistyped",
                "check",
            )

    @property
    def authority_code(self) -> str:
        """The credit code of the authority that defines the licence type."""
        return self.type_code[:18]

    @property
    def type_number(self) -> str:
        """The 3-digit number the authority gave the type."""
        return self.type_code[18:]

    @property
    def version_number(self) -> int:
        return int(self.version)

    @property
    def body(self) -> str:
        """What the check character is computed over: the four middle segments, no dots."""
        return self.type_code + self.issuer_code + self.serial + self.version

    def format(self) -> str:
        return ".".join((ROOT, self.type_code, self.issuer_code, self.serial, self.version, self.check))

    def __str__(self) -> str:
        return self.format()

    def next_version(self) -> LicenceIdentifier:
        """The identifier of the re-issued licence: version + 1, check recomputed."""
        return build(self.type_code, self.issuer_code, self.serial, self.version_number + 1)


def build(type_code: str, issuer_code: str, serial: str, version: int | str = 1) -> LicenceIdentifier:
    """Assemble an identifier and compute its check character. ``version`` is 1-999 or its
    3-digit text."""
    validate_type_code(type_code)
    validate_issuer_code(issuer_code)
    validate_serial(serial)
    text = _version_text(version)
    return LicenceIdentifier(
        type_code, issuer_code, serial, text, mod37_36_check(type_code + issuer_code + serial + text)
    )


def parse(text: str) -> LicenceIdentifier:
    """Read and validate an identifier; raises ``IdentifierError`` naming the first segment
    (in reading order) that is wrong."""
    if not isinstance(text, str):
        raise IdentifierError("e-licence identifier: expected text")
    value = text.strip()
    if not value.startswith(ROOT + "."):
        raise IdentifierError(f"{SEGMENTS['root']}: {value[:40]!r} does not start with {ROOT}.", "root")
    parts = value[len(ROOT) + 1 :].split(".")
    if len(parts) != 5:
        raise IdentifierError(
            f"e-licence identifier {value!r}: {len(parts)} segments after the root {ROOT}, expected 5 "
            "(type code, issuer code, serial, version, check character)"
        )
    type_code, issuer_code, serial, version, check = parts
    validate_type_code(type_code)
    validate_issuer_code(issuer_code)
    validate_serial(serial)
    _version_text(version)
    if len(check) != 1 or check not in _MOD_INDEX:
        raise IdentifierError(f"{SEGMENTS['check']} {check!r}: expected one character 0-9 or A-Z", "check")
    return LicenceIdentifier(type_code, issuer_code, serial, version, check)


def is_valid(text: str) -> bool:
    try:
        parse(text)
    except IdentifierError:
        return False
    return True


def format_identifier(identifier: LicenceIdentifier) -> str:
    """The dotted text form (``str(identifier)`` does the same)."""
    return identifier.format()
