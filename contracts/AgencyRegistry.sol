// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAgencyRegistry} from "./interfaces/IAgencyRegistry.sol";
import {IConsortium} from "./interfaces/IConsortium.sol";

/// @title AgencyRegistry
/// @notice Issuing agencies and their signing keys. A region's admins register the agencies
/// of their own region, choose which certificate types each may issue, suspend them, and
/// manage their keys. Agency ids are short ASCII codes, left-aligned and zero-padded.
contract AgencyRegistry is IAgencyRegistry {
    /// @notice The consortium whose regions and types this registry follows.
    IConsortium public immutable consortium;

    mapping(bytes32 agencyId => Agency) private _agencies;
    bytes32[] private _agencyIds;
    mapping(bytes32 agencyId => mapping(bytes32 typeId => bool)) private _allowed;
    mapping(address account => Key) private _keys;

    /// @param consortium_ the deployed Consortium
    constructor(IConsortium consortium_) {
        consortium = consortium_;
    }

    modifier onlyAgencyAdmin(bytes32 agencyId) {
        Agency storage a = _agencies[agencyId];
        if (a.registeredAt == 0) revert UnknownAgency(agencyId);
        if (!consortium.isRegionAdmin(a.region, msg.sender)) revert IConsortium.NotAdminOfRegion(msg.sender, a.region);
        _;
    }

    // ------------------------------------------------------------------ agencies

    /// @notice Register an agency of the caller's region with the types it may issue.
    /// @param agencyId the agency code
    /// @param region the agency's region (the caller must be its admin)
    /// @param typeIds certificate types the agency may issue
    function registerAgency(bytes32 agencyId, uint32 region, bytes32[] calldata typeIds) external {
        if (agencyId == bytes32(0)) revert InvalidAgencyId(agencyId);
        if (!consortium.isRegionAdmin(region, msg.sender)) revert IConsortium.NotAdminOfRegion(msg.sender, region);
        if (_agencies[agencyId].registeredAt != 0) revert AgencyAlreadyRegistered(agencyId);
        _agencies[agencyId] = Agency(region, false, uint64(block.timestamp));
        _agencyIds.push(agencyId);
        emit AgencyRegistered(agencyId, region);
        for (uint256 i = 0; i < typeIds.length; ++i) {
            _setType(agencyId, typeIds[i], true);
        }
    }

    /// @notice Allow or forbid certificate types for an agency. Forbidding a type stops new
    /// anchors of it; what was anchored while it was allowed stays valid.
    /// @param agencyId the agency
    /// @param typeIds the types
    /// @param allowed true to allow, false to forbid
    function setAgencyTypes(bytes32 agencyId, bytes32[] calldata typeIds, bool allowed)
        external
        onlyAgencyAdmin(agencyId)
    {
        for (uint256 i = 0; i < typeIds.length; ++i) {
            _setType(agencyId, typeIds[i], allowed);
        }
    }

    /// @notice Suspend an agency: it can no longer anchor or change statuses; what it anchored
    /// stays verifiable.
    /// @param agencyId the agency
    function suspendAgency(bytes32 agencyId) external onlyAgencyAdmin(agencyId) {
        Agency storage a = _agencies[agencyId];
        if (a.suspended) revert AgencySuspended(agencyId);
        a.suspended = true;
        emit AgencySuspendedSet(agencyId, true);
    }

    /// @notice Lift an agency's suspension.
    /// @param agencyId the agency
    function reactivateAgency(bytes32 agencyId) external onlyAgencyAdmin(agencyId) {
        Agency storage a = _agencies[agencyId];
        if (!a.suspended) revert AgencyNotSuspended(agencyId);
        a.suspended = false;
        emit AgencySuspendedSet(agencyId, false);
    }

    // ------------------------------------------------------------------ keys

    /// @notice Add a signing key to an agency.
    /// @param agencyId the agency
    /// @param account the key's address
    /// @param activeFrom when the key may start anchoring (unix seconds); 0 or a past time = now
    function addKey(bytes32 agencyId, address account, uint64 activeFrom) external onlyAgencyAdmin(agencyId) {
        _addKey(agencyId, account, activeFrom);
    }

    /// @notice Retire a key from a time on: it cannot anchor at or after `at`; earlier anchors
    /// stay valid. A scheduled retirement can be brought forward, never postponed or backdated.
    /// @param account the key
    /// @param at retirement time (unix seconds, not in the past); 0 = now
    function retireKey(address account, uint64 at) external {
        Key storage k = _keys[account];
        _checkKeyAdmin(k, account);
        _retire(k, account, at == 0 ? uint64(block.timestamp) : at);
    }

    /// @notice Replace `oldKey` by `newKey` at once: the new key is active now, the old one
    /// retired now.
    /// @param oldKey the key to retire
    /// @param newKey the key to add
    function rotateKey(address oldKey, address newKey) external {
        Key storage k = _keys[oldKey];
        _checkKeyAdmin(k, oldKey);
        _addKey(k.agency, newKey, 0);
        _retire(k, oldKey, uint64(block.timestamp));
    }

    /// @notice Report a key compromised since `since`: every anchor it made at or after that time
    /// is invalid. A region admin of the key's agency or the key itself may report; a second
    /// report can only move the time earlier.
    /// @param account the key
    /// @param since the time from which the key is not trusted (unix seconds, not in the future;
    /// 0 means since ever: every anchor of the key is invalid)
    function reportKeyCompromised(address account, uint64 since) external {
        Key storage k = _keys[account];
        if (k.agency == bytes32(0)) revert UnknownKey(account);
        if (msg.sender != account) _checkKeyAdmin(k, account);
        if (since > block.timestamp) revert CompromiseInFuture(since);
        // compromisedSince == 0 means "never compromised", so "since ever" is stored as 1.
        if (since == 0) since = 1;
        if (k.compromisedSince != 0 && k.compromisedSince <= since) {
            revert KeyAlreadyCompromised(account, k.compromisedSince);
        }
        k.compromisedSince = since;
        emit KeyCompromised(k.agency, account, since);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IAgencyRegistry
    function agency(bytes32 agencyId) external view returns (Agency memory) {
        return _agencies[agencyId];
    }

    /// @notice Every agency ever registered.
    function agencyIds() external view returns (bytes32[] memory) {
        return _agencyIds;
    }

    /// @inheritdoc IAgencyRegistry
    function key(address account) external view returns (Key memory) {
        return _keys[account];
    }

    /// @inheritdoc IAgencyRegistry
    function isTypeAllowed(bytes32 agencyId, bytes32 typeId) external view returns (bool) {
        return _allowed[agencyId][typeId];
    }

    /// @inheritdoc IAgencyRegistry
    function keyStateAt(address account, uint64 at) public view returns (KeyState) {
        Key storage k = _keys[account];
        if (k.agency == bytes32(0)) return KeyState.Unknown;
        if (k.compromisedSince != 0 && at >= k.compromisedSince) return KeyState.Compromised;
        if (at < k.activeFrom) return KeyState.NotYetActive;
        if (k.retiredAt != 0 && at >= k.retiredAt) return KeyState.Retired;
        return KeyState.Active;
    }

    /// @inheritdoc IAgencyRegistry
    function canManageStatus(bytes32 agencyId, address account) external view returns (bool) {
        Agency storage a = _agencies[agencyId];
        if (a.registeredAt == 0) return false;
        if (consortium.isRegionAdmin(a.region, account)) return true;
        return !a.suspended && consortium.isMember(a.region) && _keys[account].agency == agencyId
            && keyStateAt(account, uint64(block.timestamp)) == KeyState.Active;
    }

    // ------------------------------------------------------------------ internals

    function _setType(bytes32 agencyId, bytes32 typeId, bool allowed) private {
        if (allowed && !consortium.typeExists(typeId)) revert IConsortium.UnknownType(typeId);
        _allowed[agencyId][typeId] = allowed;
        emit AgencyTypeSet(agencyId, typeId, allowed);
    }

    function _addKey(bytes32 agencyId, address account, uint64 activeFrom) private {
        if (account == address(0)) revert IConsortium.ZeroAddress();
        if (_keys[account].agency != bytes32(0)) revert KeyAlreadyRegistered(account);
        // A key is never active before it was registered: its record must not suggest that
        // it could have signed anything earlier.
        uint64 from = activeFrom < block.timestamp ? uint64(block.timestamp) : activeFrom;
        _keys[account] = Key(agencyId, from, 0, 0);
        emit KeyAdded(agencyId, account, from);
    }

    function _retire(Key storage k, address account, uint64 at) private {
        // Backdating would contradict anchors the contract already accepted from this key.
        if (at < block.timestamp) revert RetirementInPast(account, at);
        if (k.retiredAt != 0 && k.retiredAt <= at) revert KeyAlreadyRetired(account, k.retiredAt);
        k.retiredAt = at;
        emit KeyRetired(k.agency, account, at);
    }

    function _checkKeyAdmin(Key storage k, address account) private view {
        if (k.agency == bytes32(0)) revert UnknownKey(account);
        uint32 region = _agencies[k.agency].region;
        if (!consortium.isRegionAdmin(region, msg.sender)) revert IConsortium.NotAdminOfRegion(msg.sender, region);
    }
}
