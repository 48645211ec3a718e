"""The content layer's errors: each a one-line message and a stable code."""

from __future__ import annotations

from ..errors import InvalidInput, LedgerError


class ContentError(LedgerError):
    """Something about stored or fetched content is wrong."""

    code = "CONTENT_ERROR"


class ContentTampered(ContentError):
    """Bytes do not hash to the CID they were asked for: a damaged store or a lying node."""

    code = "CONTENT_TAMPERED"


class ContentNotFound(ContentError):
    """The store or node does not hold the content."""

    code = "CONTENT_NOT_FOUND"


class IpfsUnavailable(ContentError):
    """The IPFS node cannot be reached or answered with an error."""

    code = "IPFS_UNAVAILABLE"


class InvalidCid(InvalidInput):
    """A CID that is malformed or outside the profile (see ``profile``)."""

    code = "INVALID_CID"


class SealBroken(ContentError):
    """Sealed content does not open: a wrong key, or the ciphertext was changed."""

    code = "SEAL_BROKEN"


class NotSealed(ContentError):
    """Refused: only sealed ciphertext may be published."""

    code = "NOT_SEALED"


class MalformedCode(InvalidInput):
    """A retrieval code that does not parse."""

    code = "MALFORMED_RETRIEVAL_CODE"
