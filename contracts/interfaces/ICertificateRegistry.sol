// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title ICertificateRegistry
/// @notice Anchored batches of certificate hashes, certificate and batch statuses, and the
/// on-chain verification view.
interface ICertificateRegistry {
    /// @notice A certificate's or batch's status. Revoked is final; Suspended is reversible.
    enum Status {
        Active,
        Suspended,
        Revoked
    }

    /// @notice Verification verdicts, numbered as in the product specification. EXPIRED needs
    /// the document's validity dates, which the chain does not hold: the view never returns it.
    enum Verdict {
        Valid,
        Revoked,
        Suspended,
        Expired,
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
        CertificateRevoked,
        BatchRevoked,
        CertificateSuspended,
        BatchSuspended,
        NoRecognitionRule
    }

    /// @notice An anchored batch. The agency is the signing key's (a key belongs to one agency
    /// for ever).
    struct Batch {
        address key;
        uint64 anchoredAt;
        uint32 size;
        bytes32 certType;
    }

    // ---------------------------------------------------------------- errors
    error EmptyBatch();
    error BatchAlreadyAnchored(bytes32 root);
    error UnknownBatch(bytes32 root);
    error KeyNotOfAgency(address key, bytes32 agency);
    error KeyNotYetActive(address key, uint64 activeFrom);
    error KeyRetired(address key, uint64 retiredAt);
    error KeyCompromised(address key, uint64 since);
    error TypeNotAllowed(bytes32 agency, bytes32 typeId);
    error NotAuthorized(address account, bytes32 agency);
    error AlreadyRevoked(bytes32 subject);
    error InvalidStatusTransition(bytes32 subject, Status from, Status to);

    // ---------------------------------------------------------------- events
    /// @notice A batch was anchored. `certHashes` lists every certificate hash of the batch in
    /// leaf order, so that a mirror learns each one from the log alone.
    event BatchAnchored(
        bytes32 indexed root, bytes32 indexed agency, bytes32 indexed certType, address key, bytes32[] certHashes
    );
    /// @notice A certificate's status changed.
    event CertificateStatusChanged(
        bytes32 indexed certHash, bytes32 indexed agency, Status status, bytes32 reason, address actor, uint64 time
    );
    /// @notice A whole batch's status changed.
    event BatchStatusChanged(
        bytes32 indexed root, bytes32 indexed agency, Status status, bytes32 reason, address actor, uint64 time
    );
}
