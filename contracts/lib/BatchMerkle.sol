// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title BatchMerkle
/// @notice The Merkle tree of a batch of certificate hashes, built exactly as OpenZeppelin's
/// `StandardMerkleTree.of(hashes, ["bytes32"])` builds it, so that proofs verify with
/// OpenZeppelin `MerkleProof` and third parties can rebuild trees with the npm package
/// openzeppelin/merkle-tree.
///
/// Leaf of a certificate hash h: keccak256(bytes.concat(keccak256(abi.encode(h)))) (double
/// hashed, so no inner node can pass for a leaf). Leaves sorted ascending are laid out in a
/// heap of 2n-1 nodes with leaves[i] at index 2n-2-i; node k = hashPair(node 2k+1, node 2k+2),
/// hashPair hashing the smaller word first.
library BatchMerkle {
    /// @notice The leaves of a batch are not strictly ascending at `index`: the batch is not
    /// in leaf order, or holds a certificate hash twice.
    error UnsortedLeaves(uint256 index);

    /// @notice The leaf of certificate hash `certHash`.
    function leafOf(bytes32 certHash) internal pure returns (bytes32 leaf) {
        assembly ("memory-safe") {
            mstore(0x00, certHash)
            mstore(0x00, keccak256(0x00, 0x20))
            leaf := keccak256(0x00, 0x20)
        }
    }

    /// @notice The root of the tree over `certHashes`, which must be given in ascending leaf
    /// order (reverts with UnsortedLeaves otherwise). `certHashes` must not be empty.
    /// @dev Uses memory above the free memory pointer as scratch for the 2n-1 nodes without
    /// reserving it: nothing is kept there once the function returns.
    function rootOf(bytes32[] calldata certHashes) internal pure returns (bytes32 root) {
        uint256 n = certHashes.length;
        uint256 badIndex = n;
        assembly ("memory-safe") {
            let tree := mload(0x40)
            let last := sub(shl(1, n), 2) // index of the last node, 2n-2
            let prev := 0
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                mstore(0x00, calldataload(add(certHashes.offset, shl(5, i))))
                mstore(0x00, keccak256(0x00, 0x20))
                let leaf := keccak256(0x00, 0x20)
                if and(gt(i, 0), iszero(gt(leaf, prev))) {
                    badIndex := i
                    break
                }
                prev := leaf
                mstore(add(tree, shl(5, sub(last, i))), leaf)
            }
            if eq(badIndex, n) {
                // Internal nodes n-2 .. 0, children 2k+1 and 2k+2.
                for { let k := sub(n, 1) } gt(k, 0) {} {
                    k := sub(k, 1)
                    let child := add(tree, shl(5, add(shl(1, k), 1)))
                    let a := mload(child)
                    let b := mload(add(child, 0x20))
                    switch lt(a, b)
                    case 1 {
                        mstore(0x00, a)
                        mstore(0x20, b)
                    }
                    default {
                        mstore(0x00, b)
                        mstore(0x20, a)
                    }
                    mstore(add(tree, shl(5, k)), keccak256(0x00, 0x40))
                }
                root := mload(tree)
            }
        }
        if (badIndex != n) revert UnsortedLeaves(badIndex);
    }
}
