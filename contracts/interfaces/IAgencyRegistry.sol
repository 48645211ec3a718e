// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IAgencyRegistry
/// @notice Issuing agencies, the certificate types each may issue, and their signing keys.
interface IAgencyRegistry {
    /// @notice An issuing agency, registered by an admin of its region. `epoch` is the region's
    /// epoch in which the agency was last enabled: after the region is removed and admitted
    /// again, the agency stays disabled until a region admin reactivates it.
    struct Agency {
        uint32 region;
        bool suspended;
        uint64 registeredAt;
        uint32 epoch;
    }

    /// @notice A signing key's life: it may anchor in [activeFrom, retiredAt); anchors made at or
    /// after compromisedSince are invalid. Zero retiredAt / compromisedSince means "never".
    /// `epoch` is the region epoch in which the key was last enabled (see Agency).
    struct Key {
        bytes32 agency;
        uint64 activeFrom;
        uint64 retiredAt;
        uint64 compromisedSince;
        uint32 epoch;
    }

    /// @notice A key's standing at a given time.
    enum KeyState {
        Unknown,
        NotYetActive,
        Active,
        Retired,
        Compromised
    }

    /// @notice Who changed a status, from weakest to strongest. A suspension can be lifted only
    /// by the role that imposed it or a stronger one.
    enum Role {
        None,
        AgencyKey,
        RegionAdmin,
        Consortium
    }

    // ---------------------------------------------------------------- errors
    error InvalidAgencyId(bytes32 agency);
    error AgencyAlreadyRegistered(bytes32 agency);
    error UnknownAgency(bytes32 agency);
    error AgencySuspended(bytes32 agency);
    error AgencyNotSuspended(bytes32 agency);
    error KeyAlreadyRegistered(address key);
    error UnknownKey(address key);
    error KeyAlreadyRetired(address key, uint64 retiredAt);
    error KeyAlreadyEnabled(address key);
    error RetirementInPast(address key, uint64 at);
    error CompromiseInFuture(uint64 since);
    error KeyAlreadyCompromised(address key, uint64 since);
    error CompromiseUnchanged(address key, uint64 since);
    /// @notice An SM2 public key must be 64 bytes (x || y) or, outside the sm suite, empty.
    error InvalidSm2PublicKey(uint256 length);
    /// @notice In the sm suite every agency key needs its SM2 public key.
    error Sm2KeyRequired(address key);
    /// @notice A credit code cannot be all zero bytes.
    error InvalidCreditCode(bytes32 agency);
    /// @notice The credit code is another agency's.
    error CreditCodeTaken(bytes18 code, bytes32 holder);

    // ---------------------------------------------------------------- events
    event AgencyRegistered(bytes32 indexed agency, uint32 indexed region);
    event AgencyTypeSet(bytes32 indexed agency, bytes32 indexed typeId, bool allowed);
    event AgencySuspendedSet(bytes32 indexed agency, bool suspended);
    /// @notice A key was added (also by a rotation), with its SM2 public key (x || y, 64 bytes;
    /// empty outside the sm suite when none was given).
    event KeyAdded(bytes32 indexed agency, address indexed key, uint64 activeFrom, bytes sm2PublicKey);
    /// @notice An agency's unified social credit code (GB 32100, 18 ASCII characters) was set.
    event AgencyCreditCodeSet(bytes32 indexed agency, bytes18 creditCode);
    event KeyRetired(bytes32 indexed agency, address indexed key, uint64 retiredAt);
    /// @notice A key re-enabled by its region admin after the region was admitted again.
    event KeyEnabled(bytes32 indexed agency, address indexed key, uint32 epoch);
    /// @notice A key was reported compromised since `since` by `reporter` acting as `role`
    /// (the key itself reports as AgencyKey and only ever "since now").
    event KeyCompromised(bytes32 indexed agency, address indexed key, uint64 since, address reporter, Role role);
    /// @notice The consortium corrected a key's compromise report (0 = not compromised).
    event KeyCompromiseCorrected(bytes32 indexed agency, address indexed key, uint64 previousSince, uint64 since);

    // ---------------------------------------------------------------- views used by the other contracts
    /// @notice An agency's record (registeredAt == 0 when unknown).
    function agency(bytes32 agencyId) external view returns (Agency memory);

    /// @notice A key's record (agency == 0 when unknown).
    function key(address account) external view returns (Key memory);

    /// @notice The SM2 public key (x || y, 64 bytes) registered with `account`; empty when none.
    /// It shares the key's life cycle (active from, retired, compromised since).
    function sm2PublicKey(address account) external view returns (bytes memory);

    /// @notice The agency's unified social credit code (GB 32100; zero when none is set).
    function creditCode(bytes32 agencyId) external view returns (bytes18);

    /// @notice Whether `agencyId` may issue `typeId`.
    function isTypeAllowed(bytes32 agencyId, bytes32 typeId) external view returns (bool);

    /// @notice The standing of `account` as a signing key at time `at`.
    function keyStateAt(address account, uint64 at) external view returns (KeyState);

    /// @notice Whether the agency may act now: registered, not suspended, its region a member
    /// and the agency enabled in the region's current epoch.
    function agencyEnabled(bytes32 agencyId) external view returns (bool);

    /// @notice Whether `account` may sign for its agency now: active now, enabled in the region's
    /// current epoch, and its agency enabled.
    function keyEnabled(address account) external view returns (bool);

    /// @notice The role in which `account` may change the statuses of the agency's certificates
    /// now: RegionAdmin (an admin of the agency's region), AgencyKey (an enabled key of the
    /// agency), or None.
    function statusRole(bytes32 agencyId, address account) external view returns (Role);
}
