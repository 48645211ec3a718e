// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IAgencyRegistry} from "./interfaces/IAgencyRegistry.sol";
import {IConsortium} from "./interfaces/IConsortium.sol";

/// @title AgencyRegistry
/// @notice Issuing agencies and their signing keys. A region's admins register the agencies
/// of their own region, choose which certificate types each may issue, suspend them, and
/// manage their keys. Agency ids are short ASCII codes, left-aligned and zero-padded.
///
/// When a region is removed and later admitted again, its agencies and keys do not come back
/// by themselves: each stays disabled until a region admin enables it again
/// (reactivateAgency, enableKey). A key may report itself compromised only "since now";
/// backdating a report is for the region's admins, and the consortium (M-of-N) can correct a
/// report made by mistake or in bad faith (correctKeyCompromise).
///
/// Every key may carry an SM2 public key (64 bytes, x || y) registered with its address; in a
/// deployment of the "sm" suite it must. The SM2 key has no life cycle of its own: it is
/// trusted exactly when its address is (active from, retired, compromised since), and the
/// batch signatures it makes are checked off chain (the EVM has no SM2 precompile).
contract AgencyRegistry is IAgencyRegistry {
    /// @notice The consortium whose regions and types this registry follows.
    IConsortium public immutable consortium;

    /// @notice Whether the deployment is of the "sm" suite (every key needs an SM2 public key).
    bool public immutable sm2Required;

    mapping(bytes32 agencyId => Agency) private _agencies;
    bytes32[] private _agencyIds;
    mapping(bytes32 agencyId => mapping(bytes32 typeId => bool)) private _allowed;
    mapping(address account => Key) private _keys;
    mapping(address account => bytes32[2] xy) private _sm2Keys;
    mapping(bytes32 agencyId => bytes18 code) private _creditCodes;
    mapping(bytes18 code => bytes32 agencyId) private _creditCodeHolders; // a code names one agency

    /// @param consortium_ the deployed Consortium (its cryptoSuite decides whether SM2 keys are required)
    constructor(IConsortium consortium_) {
        consortium = consortium_;
        sm2Required = consortium_.cryptoSuite() == bytes32("sm");
    }

    modifier onlyConsortium() {
        if (msg.sender != address(consortium)) revert IConsortium.NotConsortium(msg.sender);
        _;
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
        _agencies[agencyId] = Agency(region, false, uint64(block.timestamp), consortium.regionEpoch(region));
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

    /// @notice Lift an agency's suspension, or enable it again after its region was re-admitted.
    /// @param agencyId the agency
    function reactivateAgency(bytes32 agencyId) external onlyAgencyAdmin(agencyId) {
        Agency storage a = _agencies[agencyId];
        uint32 epoch = consortium.regionEpoch(a.region);
        if (!a.suspended && a.epoch == epoch) revert AgencyNotSuspended(agencyId);
        a.suspended = false;
        a.epoch = epoch;
        emit AgencySuspendedSet(agencyId, false);
    }

    /// @notice Set an agency's unified social credit code (GB 32100-2015: 18 ASCII characters;
    /// its check character is verified off chain). Callable by an admin of the agency's region.
    /// A code names one agency: a code another agency holds is refused (an admin cannot make
    /// an agency of its region the issuer that e-licence identifiers of another agency name).
    /// @param agencyId the agency
    /// @param code the credit code, ASCII
    function setAgencyCreditCode(bytes32 agencyId, bytes18 code) external onlyAgencyAdmin(agencyId) {
        if (code == bytes18(0)) revert InvalidCreditCode(agencyId);
        bytes32 holder = _creditCodeHolders[code];
        if (holder != bytes32(0) && holder != agencyId) revert CreditCodeTaken(code, holder);
        bytes18 previous = _creditCodes[agencyId];
        if (previous != bytes18(0)) delete _creditCodeHolders[previous];
        _creditCodes[agencyId] = code;
        _creditCodeHolders[code] = agencyId;
        emit AgencyCreditCodeSet(agencyId, code);
    }

    // ------------------------------------------------------------------ keys

    /// @notice Add a signing key to an agency.
    /// @param agencyId the agency
    /// @param account the key's address
    /// @param activeFrom when the key may start anchoring (unix seconds); 0 or a past time = now
    /// @param sm2Key the key's SM2 public key, x || y (64 bytes); empty for none (not in the sm suite)
    function addKey(bytes32 agencyId, address account, uint64 activeFrom, bytes calldata sm2Key)
        external
        onlyAgencyAdmin(agencyId)
    {
        _addKey(agencyId, account, activeFrom, sm2Key);
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
    /// @param sm2Key the new key's SM2 public key, x || y (64 bytes); empty for none (not in the sm suite)
    function rotateKey(address oldKey, address newKey, bytes calldata sm2Key) external {
        Key storage k = _keys[oldKey];
        _checkKeyAdmin(k, oldKey);
        _addKey(k.agency, newKey, 0, sm2Key);
        _retire(k, oldKey, uint64(block.timestamp));
    }

    /// @notice Re-enable a key after its region was removed and admitted again.
    /// @param account the key
    function enableKey(address account) external {
        Key storage k = _keys[account];
        _checkKeyAdmin(k, account);
        uint32 epoch = consortium.regionEpoch(_agencies[k.agency].region);
        if (k.epoch == epoch) revert KeyAlreadyEnabled(account);
        k.epoch = epoch;
        emit KeyEnabled(k.agency, account, epoch);
    }

    /// @notice The calling key reports itself compromised from now on: anchors it makes from
    /// this moment are invalid, earlier ones stay valid. A key can never backdate its own
    /// report (a leaked archived key must not be able to void what it signed years ago).
    function reportOwnKeyCompromised() external {
        Key storage k = _keys[msg.sender];
        if (k.agency == bytes32(0)) revert UnknownKey(msg.sender);
        _report(k, msg.sender, uint64(block.timestamp), Role.AgencyKey);
    }

    /// @notice A region admin of the key's agency reports the key compromised since `since`:
    /// every anchor it made at or after that time is invalid. A second report can only move the
    /// time earlier; the consortium can correct a report (correctKeyCompromise).
    /// @param account the key
    /// @param since the time from which the key is not trusted (unix seconds, not in the future;
    /// 0 means since ever: every anchor of the key is invalid)
    function reportKeyCompromised(address account, uint64 since) external {
        Key storage k = _keys[account];
        _checkKeyAdmin(k, account);
        if (since > block.timestamp) revert CompromiseInFuture(since);
        // compromisedSince == 0 means "never compromised", so "since ever" is stored as 1.
        _report(k, account, since == 0 ? 1 : since, Role.RegionAdmin);
    }

    /// @notice The consortium (an executed M-of-N proposal) corrects a key's compromise report:
    /// `since` replaces the reported time, 0 clears it. The history stays in the events.
    /// @param account the key
    /// @param since the corrected time (not in the future), or 0: not compromised
    function correctKeyCompromise(address account, uint64 since) external onlyConsortium {
        Key storage k = _keys[account];
        if (k.agency == bytes32(0)) revert UnknownKey(account);
        if (since > block.timestamp) revert CompromiseInFuture(since);
        uint64 previous = k.compromisedSince;
        if (previous == since) revert CompromiseUnchanged(account, since);
        k.compromisedSince = since;
        emit KeyCompromiseCorrected(k.agency, account, previous, since);
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
    function sm2PublicKey(address account) external view returns (bytes memory) {
        bytes32[2] storage xy = _sm2Keys[account];
        if (xy[0] == bytes32(0) && xy[1] == bytes32(0)) return "";
        return abi.encodePacked(xy[0], xy[1]);
    }

    /// @notice The agency's unified social credit code (ASCII), or zero when none was set.
    function creditCode(bytes32 agencyId) external view returns (bytes18) {
        return _creditCodes[agencyId];
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
    function agencyEnabled(bytes32 agencyId) public view returns (bool) {
        Agency storage a = _agencies[agencyId];
        return a.registeredAt != 0 && !a.suspended && consortium.isMember(a.region)
            && a.epoch == consortium.regionEpoch(a.region);
    }

    /// @inheritdoc IAgencyRegistry
    function keyEnabled(address account) public view returns (bool) {
        Key storage k = _keys[account];
        if (k.agency == bytes32(0) || !agencyEnabled(k.agency)) return false;
        return k.epoch == consortium.regionEpoch(_agencies[k.agency].region)
            && keyStateAt(account, uint64(block.timestamp)) == KeyState.Active;
    }

    /// @inheritdoc IAgencyRegistry
    function statusRole(bytes32 agencyId, address account) external view returns (Role) {
        Agency storage a = _agencies[agencyId];
        if (a.registeredAt == 0) return Role.None;
        if (consortium.isRegionAdmin(a.region, account)) return Role.RegionAdmin;
        if (_keys[account].agency == agencyId && keyEnabled(account)) return Role.AgencyKey;
        return Role.None;
    }

    // ------------------------------------------------------------------ internals

    function _setType(bytes32 agencyId, bytes32 typeId, bool allowed) private {
        if (allowed && !consortium.typeExists(typeId)) revert IConsortium.UnknownType(typeId);
        _allowed[agencyId][typeId] = allowed;
        emit AgencyTypeSet(agencyId, typeId, allowed);
    }

    function _addKey(bytes32 agencyId, address account, uint64 activeFrom, bytes calldata sm2Key) private {
        if (account == address(0)) revert IConsortium.ZeroAddress();
        if (_keys[account].agency != bytes32(0)) revert KeyAlreadyRegistered(account);
        if (sm2Key.length != 64 && sm2Key.length != 0) revert InvalidSm2PublicKey(sm2Key.length);
        if (sm2Key.length == 0 && sm2Required) revert Sm2KeyRequired(account);
        if (sm2Key.length == 64) {
            bytes32 x = bytes32(sm2Key[0:32]);
            bytes32 y = bytes32(sm2Key[32:64]);
            // (0, 0) is not on the curve, and would read back as "no key"
            if (x == bytes32(0) && y == bytes32(0)) revert InvalidSm2PublicKey(64);
            _sm2Keys[account] = [x, y];
        }
        // A key is never active before it was registered: its record must not suggest that
        // it could have signed anything earlier.
        uint64 from = activeFrom < block.timestamp ? uint64(block.timestamp) : activeFrom;
        _keys[account] = Key(agencyId, from, 0, 0, consortium.regionEpoch(_agencies[agencyId].region));
        emit KeyAdded(agencyId, account, from, sm2Key);
    }

    function _report(Key storage k, address account, uint64 since, Role role) private {
        if (k.compromisedSince != 0 && k.compromisedSince <= since) {
            revert KeyAlreadyCompromised(account, k.compromisedSince);
        }
        k.compromisedSince = since;
        emit KeyCompromised(k.agency, account, since, msg.sender, role);
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
