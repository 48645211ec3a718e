// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IConsortium
/// @notice Membership of the consortium (regions and their admins), M-of-N governance,
/// certificate types and cross-region recognition rules.
interface IConsortium {
    /// @notice What a governance proposal does when it executes.
    enum ProposalKind {
        AddRegion, // payload: abi.encode(uint32 region, address admin)
        RemoveRegion, // payload: abi.encode(uint32 region, uint64 cutoff)
        AddType, // payload: abi.encode(bytes32 typeId, string schema)
        SetQuorum, // payload: abi.encode(uint32 numerator, uint32 denominator)
        Call // payload: abi.encode(address target, bytes data): a consortium action on another contract
    }

    /// @notice A governance proposal; it executes when approvals of current members reach the
    /// quorum before expiresAt.
    struct Proposal {
        ProposalKind kind;
        bool executed;
        uint32 proposerRegion;
        uint64 createdAt;
        uint64 expiresAt;
        bytes payload;
    }

    /// @notice A region's membership record. `epoch` counts removals: agencies and keys enabled
    /// in an earlier epoch stay disabled after a re-admission until enabled again.
    struct Region {
        bool member;
        uint32 adminCount;
        uint64 admittedAt;
        uint64 removedAt;
        uint32 epoch;
    }

    /// @notice Anchors made by a removed region's agencies in [cutoff, removedAt] are void (the
    /// removal's own second included: an anchor in the same block as the removal came first).
    struct VoidWindow {
        uint64 cutoff;
        uint64 removedAt;
    }

    /// @notice A recognition rule: verifier region recognises a type issued in a region (0 = any).
    struct RecognitionRule {
        bool exists;
        uint64 validFrom;
        uint64 validUntil; // 0 = open-ended
    }

    /// @notice A verifier organisation registered by its region: it may receive personal data
    /// (a citizen's presentation) through an API that knows its API key (`apiKeyHash` is the
    /// SHA-256 of that key), and anchors the roots of its verification receipts from `account`.
    struct Verifier {
        uint32 region; // 0: not registered
        address account;
        bytes32 apiKeyHash;
        uint8 role; // 1: VERIFIER (checks presentations)
        uint32 ratePerMinute; // requests the API accepts from it per minute (0: no limit)
        bool suspended;
        uint32 epoch; // the region's epoch it was registered in: a re-admitted region registers again
    }

    // ---------------------------------------------------------------- errors
    error InvalidRegionCode(uint32 region);
    error RegionAlreadyMember(uint32 region);
    error RegionNotMember(uint32 region);
    error NotRegionAdmin(address account);
    error NotAdminOfRegion(address account, uint32 region);
    error AdminAlreadyAssigned(address admin, uint32 region);
    error LastAdmin(uint32 region);
    error LastMember(uint32 region);
    error ZeroAddress();
    error FoundingListMismatch(uint256 regions, uint256 admins);
    error InvalidQuorumRule(uint32 numerator, uint32 denominator);
    error InvalidCutoff(uint64 cutoff, uint64 latest);
    error UnknownProposal(uint256 id);
    error ProposalAlreadyExecuted(uint256 id);
    error ProposalExpired(uint256 id, uint64 expiredAt);
    error AlreadyApproved(uint256 id, uint32 region);
    error QuorumNotReached(uint256 id, uint32 approvals, uint32 quorum);
    error InvalidTypeId(bytes32 typeId);
    error TypeAlreadyExists(bytes32 typeId);
    error UnknownType(bytes32 typeId);
    error EmptySchema(bytes32 typeId);
    error InvalidValidityWindow(uint64 validFrom, uint64 validUntil);
    error UnknownRecognitionRule(uint32 verifier, bytes32 typeId, uint32 issuer);
    error InvalidCallTarget(address target);
    error NotConsortium(address caller);
    error UnknownCryptoSuite(bytes32 suite);
    error InvalidVerifier(bytes32 id);
    error VerifierAlreadyRegistered(bytes32 id);
    error UnknownVerifier(bytes32 id);
    error InvalidVerifierRole(uint8 role);
    /// @notice Only the verifier's account, while the verifier and its region stand, anchors its receipts.
    error NotVerifierAccount(bytes32 id, address account);
    error EmptyReceiptBatch();
    error InvalidSnapshot();

    // ---------------------------------------------------------------- events
    event RegionAdmitted(uint32 indexed region, address indexed admin, uint32 epoch);
    /// @notice A region left the consortium; its agencies' anchors made at or after `cutoff`
    /// are void (cutoff == removal time: none).
    event RegionRemoved(uint32 indexed region, uint64 cutoff);
    event RegionAdminAdded(uint32 indexed region, address indexed admin);
    event RegionAdminRemoved(uint32 indexed region, address indexed admin);
    event ProposalCreated(
        uint256 indexed id, ProposalKind kind, uint32 indexed proposerRegion, bytes payload, uint64 expiresAt
    );
    event ProposalApproved(uint256 indexed id, uint32 indexed region, uint32 approvals);
    event ProposalExecuted(uint256 indexed id, ProposalKind kind);
    /// @notice The quorum rule changed: a proposal needs approvals from more than
    /// numerator/denominator of the member regions.
    event QuorumRuleChanged(uint32 numerator, uint32 denominator);
    event CertificateTypeAdded(bytes32 indexed typeId, bytes32 schemaHash, string schema);
    event RecognitionSet(
        uint32 indexed verifier, bytes32 indexed typeId, uint32 indexed issuer, uint64 validFrom, uint64 validUntil
    );
    event RecognitionRemoved(uint32 indexed verifier, bytes32 indexed typeId, uint32 indexed issuer);
    /// @notice A verifier organisation was registered or changed (`suspended`: it may no longer
    /// receive personal data or anchor receipts).
    event VerifierSet(
        bytes32 indexed id,
        uint32 indexed region,
        address account,
        bytes32 apiKeyHash,
        uint8 role,
        uint32 ratePerMinute,
        bool suspended
    );
    /// @notice A verifier anchored the Merkle root of `count` verification receipts.
    event ReceiptsAnchored(bytes32 indexed verifier, bytes32 indexed root, uint32 count);
    /// @notice A region admin published a trust snapshot of the ledger as of block `height`:
    /// `digest` is what the region admins signed, `cid` where it is stored (IPFS).
    event SnapshotAnchored(uint32 indexed region, uint64 indexed height, bytes32 digest, string cid);

    // ---------------------------------------------------------------- views used by the other contracts
    /// @notice Whether `region` is a current member.
    function isMember(uint32 region) external view returns (bool);

    /// @notice Whether `account` is an admin of `region` and `region` is a current member.
    function isRegionAdmin(uint32 region, address account) external view returns (bool);

    /// @notice The region's epoch: how many times it has been removed.
    function regionEpoch(uint32 region) external view returns (uint32);

    /// @notice Whether an anchor made at `at` by an agency of `region` falls in a void window of
    /// the region's removals, and that window's cutoff.
    function anchorVoid(uint32 region, uint64 at) external view returns (bool voided, uint64 cutoff);

    /// @notice Whether the certificate type `typeId` exists.
    function typeExists(bytes32 typeId) external view returns (bool);

    /// @notice Whether `verifier` recognises `typeId` issued in `issuer` at time `at`.
    function isRecognized(uint32 verifier, bytes32 typeId, uint32 issuer, uint64 at) external view returns (bool);

    /// @notice The deployment's cryptographic suite: "intl" or "sm" (ASCII, left-aligned).
    function cryptoSuite() external view returns (bytes32);
}
