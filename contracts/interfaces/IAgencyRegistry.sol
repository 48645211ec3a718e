// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IAgencyRegistry
/// @notice Issuing agencies, the certificate types each may issue, and their signing keys.
interface IAgencyRegistry {
    /// @notice An issuing agency, registered by an admin of its region.
    struct Agency {
        uint32 region;
        bool suspended;
        uint64 registeredAt;
    }

    /// @notice A signing key's life: it may anchor in [activeFrom, retiredAt); anchors made at or
    /// after compromisedSince are invalid. Zero retiredAt / compromisedSince means "never".
    struct Key {
        bytes32 agency;
        uint64 activeFrom;
        uint64 retiredAt;
        uint64 compromisedSince;
    }

    /// @notice A key's standing at a given time.
    enum KeyState {
        Unknown,
        NotYetActive,
        Active,
        Retired,
        Compromised
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
    error RetirementInPast(address key, uint64 at);
    error CompromiseInFuture(uint64 since);
    error KeyAlreadyCompromised(address key, uint64 since);

    // ---------------------------------------------------------------- events
    event AgencyRegistered(bytes32 indexed agency, uint32 indexed region);
    event AgencyTypeSet(bytes32 indexed agency, bytes32 indexed typeId, bool allowed);
    event AgencySuspendedSet(bytes32 indexed agency, bool suspended);
    event KeyAdded(bytes32 indexed agency, address indexed key, uint64 activeFrom);
    event KeyRetired(bytes32 indexed agency, address indexed key, uint64 retiredAt);
    event KeyCompromised(bytes32 indexed agency, address indexed key, uint64 since);

    // ---------------------------------------------------------------- views used by the other contracts
    /// @notice An agency's record (registeredAt == 0 when unknown).
    function agency(bytes32 agencyId) external view returns (Agency memory);

    /// @notice A key's record (agency == 0 when unknown).
    function key(address account) external view returns (Key memory);

    /// @notice Whether `agencyId` may issue `typeId`.
    function isTypeAllowed(bytes32 agencyId, bytes32 typeId) external view returns (bool);

    /// @notice The standing of `account` as a signing key at time `at`.
    function keyStateAt(address account, uint64 at) external view returns (KeyState);

    /// @notice Whether `account` is a region admin of the agency's region or one of its keys
    /// active now, so that it may change the statuses of the agency's certificates.
    function canManageStatus(bytes32 agencyId, address account) external view returns (bool);
}
