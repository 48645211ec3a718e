// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAgencyRegistry} from "./IAgencyRegistry.sol";

/// @title ICertificateRegistry
/// @notice Anchored batches of certificate hashes, certificate and batch statuses, holder
/// bindings, and the on-chain verification view. Everything is keyed by the issuing agency
/// first: a batch is identified by (agency, root), and no agency can anchor, block, shadow,
/// change the status of or bind a holder to another agency's batches or certificates.
interface ICertificateRegistry {
    /// @notice A certificate's or batch's status. Revoked is final; Suspended is reversible.
    enum Status {
        Active,
        Suspended,
        Revoked
    }

    /// @notice What the chain alone can tell about a certificate. `Ok` means every check the
    /// chain can make passed (anchored, proof, key, issuing region, status, recognition); it is
    /// not "valid": the validity dates and the document's integrity are in the document, and the
    /// caller must check them (CertLedger's verification engine does).
    enum Verdict {
        Ok,
        Revoked,
        Suspended,
        NotRecognized,
        Invalid,
        Unknown
    }

    /// @notice Why the view returned its verdict.
    enum Reason {
        None,
        NotAnchored,
        ProofMismatch,
        KeyCompromised,
        RegionRemoved,
        CertificateRevoked,
        BatchRevoked,
        CertificateSuspended,
        BatchSuspended,
        NoRecognitionRule
    }

    /// @notice An anchored batch of `agency` (the mapping key): the signing key, when, how many
    /// certificates, which type.
    struct Batch {
        address key;
        uint64 anchoredAt;
        uint32 size;
        bytes32 certType;
    }

    /// @notice A status and the role of whoever set it.
    struct StatusRecord {
        Status status;
        IAgencyRegistry.Role role;
    }

    /// @notice Everything a verification asks the chain about one certificate of one agency's
    /// batch, read in one call (see CertificateRegistry.inspect).
    struct Inspection {
        Batch batch; // anchoredAt == 0: the agency anchored no batch with this root
        IAgencyRegistry.Key key; // the batch's signing key (its life cycle)
        uint32 issuerRegion; // the agency's region (0: unknown agency)
        bool voided; // the anchoring falls in a removal window of the agency's region
        uint64 cutoff; // that window's cut-off
        StatusRecord certificateStatus; // the certificate's own status, and who set it
        StatusRecord batchStatus; // the batch's status, and who set it
        bool recognized; // the verifier region recognises the batch's type from the issuer region at `at`
        uint64 blockNumber; // the block the answer is for
        uint64 blockTime;
        bytes32 sm2SignatureHash; // keccak256 of the batch's SM2 signature (sm suite; zero otherwise)
        bytes32 identifierTagsHash; // keccak256 of the batch's identifier tags (zero: none)
        bytes sm2PublicKey; // the batch key's registered SM2 public key, x || y (empty: none)
        bytes18 issuerCreditCode; // the agency's unified social credit code (zero: none set)
    }

    // ---------------------------------------------------------------- errors
    error EmptyBatch();
    /// @notice `signatures` must be the 65-byte EIP-712 signature, followed in the sm suite by
    /// the 64-byte SM2 signature (129 bytes).
    error InvalidSignatures(uint256 length, uint256 expected);
    /// @notice `identifierTags` must be empty or hold one tag per certificate hash.
    error IdentifierTagsMismatch(uint256 tags, uint256 certificates);
    error BatchAlreadyAnchored(bytes32 agency, bytes32 root);
    error UnknownBatch(bytes32 agency, bytes32 root);
    error KeyNotOfAgency(address key, bytes32 agency);
    error KeyNotYetActive(address key, uint64 activeFrom);
    error KeyRetired(address key, uint64 retiredAt);
    error KeyCompromised(address key, uint64 since);
    error KeyDisabled(address key);
    error AgencyDisabled(bytes32 agency);
    error TypeNotAllowed(bytes32 agency, bytes32 typeId);
    error NotAuthorized(address account, bytes32 agency);
    error AlreadyRevoked(bytes32 subject);
    error InvalidStatusTransition(bytes32 subject, Status from, Status to);
    error SuspensionHeldByStrongerRole(bytes32 subject, IAgencyRegistry.Role heldBy, IAgencyRegistry.Role actor);
    /// @notice bindHolders needs at least one (certificate, key hash) pair.
    error NoBindings();
    /// @notice bindHolders needs one key hash per certificate hash.
    error BindingsMismatch(uint256 certificates, uint256 keyHashes);
    /// @notice The certificate hash at `index` of a bindHolders call is zero.
    error ZeroCertificateHash(uint256 index);

    // ---------------------------------------------------------------- events
    /// @notice A batch was anchored. `certHashes` lists every certificate hash of the batch in
    /// leaf order, so that a mirror learns each one from the log alone. The same (agency, root)
    /// is anchored again only when its earlier anchoring is void (its key was compromised at
    /// anchoring time, or its region was removed with a cut-off before it): the newer anchoring
    /// replaces it. `sm2Signature` is the agency's SM2 signature of the batch (sm suite; empty
    /// otherwise), `identifierTags` the certificates' identifier tags in the order of
    /// `certHashes` (empty when the batch has none; bytes16(0) for a certificate without).
    event BatchAnchored(
        bytes32 indexed root,
        bytes32 indexed agency,
        bytes32 indexed certType,
        address key,
        bytes32[] certHashes,
        bytes sm2Signature,
        bytes16[] identifierTags
    );
    /// @notice A certificate's status changed, by `actor` acting as `role`.
    event CertificateStatusChanged(
        bytes32 indexed certHash,
        bytes32 indexed agency,
        Status status,
        bytes32 reason,
        address actor,
        IAgencyRegistry.Role role,
        uint64 time
    );
    /// @notice A whole batch's status changed, by `actor` acting as `role`.
    event BatchStatusChanged(
        bytes32 indexed root,
        bytes32 indexed agency,
        Status status,
        bytes32 reason,
        address actor,
        IAgencyRegistry.Role role,
        uint64 time
    );
    /// @notice The agency bound the holder's device key to one of its certificates: `keyHash` is
    /// the SHA-256 of the key's 65-byte uncompressed P-256 point (zero: unbound), set by `by`
    /// acting as `role`. A newer event for the same (agency, certHash) replaces the binding.
    event HolderBound(
        bytes32 indexed agency, bytes32 indexed certHash, bytes32 keyHash, address by, IAgencyRegistry.Role role
    );
}
