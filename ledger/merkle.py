"""Batch Merkle trees, identical to OpenZeppelin's ``StandardMerkleTree.of(hashes, ["bytes32"])``
and to the on-chain ``BatchMerkle`` library.

- leaf(h) = keccak256(keccak256(h))   (abi.encode of one bytes32 is the word itself)
- leaves sorted ascending; a heap of 2n-1 nodes holds leaves[i] at index 2n-2-i
- node k = keccak256(min(a, b) || max(a, b)) with a, b = nodes 2k+1, 2k+2
- proofs verify with OpenZeppelin ``MerkleProof`` (sorted pairs)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

try:  # safe-pysha3: a C keccak, ~5x faster than eth-hash's pycryptodome backend
    from sha3 import keccak_256 as _keccak_256

    def keccak(data: bytes) -> bytes:
        return _keccak_256(data).digest()

except ImportError:  # pragma: no cover - the pinned dependency set has it
    from eth_hash.auto import keccak as _eth_keccak

    def keccak(data: bytes) -> bytes:
        return _eth_keccak(data)


def leaf_of(cert_hash: bytes) -> bytes:
    return keccak(keccak(cert_hash))


def hash_pair(a: bytes, b: bytes) -> bytes:
    return keccak(a + b) if a < b else keccak(b + a)


@dataclass(frozen=True)
class BatchTree:
    """A built tree. ``cert_hashes`` is in leaf order: the order ``anchorBatch`` expects."""

    nodes: list[bytes]
    cert_hashes: list[bytes]
    _position: dict[bytes, int]

    @property
    def root(self) -> bytes:
        return self.nodes[0]

    def __len__(self) -> int:
        return len(self.cert_hashes)

    def proof(self, cert_hash: bytes) -> list[bytes]:
        """Sibling hashes from the certificate's leaf up to the root."""
        try:
            i = len(self.nodes) - 1 - self._position[bytes(cert_hash)]
        except KeyError:
            raise KeyError(f"certificate hash 0x{bytes(cert_hash).hex()} is not in this batch") from None
        path = []
        while i > 0:
            path.append(self.nodes[i + 1 if i % 2 else i - 1])
            i = (i - 1) // 2
        return path


def build_tree(cert_hashes: Sequence[bytes]) -> BatchTree:
    """Build the tree of a batch. Raises ValueError on an empty batch or a duplicate hash."""
    if not cert_hashes:
        raise ValueError("empty batch")
    pairs = sorted((leaf_of(bytes(h)), bytes(h)) for h in cert_hashes)
    n = len(pairs)
    for (a, _), (b, h) in pairwise(pairs):
        if a == b:
            raise ValueError(f"certificate hash 0x{h.hex()} appears twice in the batch")
    nodes: list[bytes] = [b""] * (2 * n - 1)
    last = 2 * n - 2
    for i, (leaf, _) in enumerate(pairs):
        nodes[last - i] = leaf
    for k in range(n - 2, -1, -1):
        nodes[k] = hash_pair(nodes[2 * k + 1], nodes[2 * k + 2])
    ordered = [h for _, h in pairs]
    return BatchTree(nodes, ordered, {h: i for i, h in enumerate(ordered)})


def root_from_proof(cert_hash: bytes, proof: Sequence[bytes]) -> bytes:
    """The root a proof leads to (OpenZeppelin ``MerkleProof.processProof``)."""
    node = leaf_of(bytes(cert_hash))
    for sibling in proof:
        node = hash_pair(node, bytes(sibling))
    return node


def verify_proof(cert_hash: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    return root_from_proof(cert_hash, proof) == bytes(root)
