// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IConsortium} from "./interfaces/IConsortium.sol";

/// @title Consortium
/// @notice The member regions of the ledger and what they decide together. Regions are
/// identified by their 6-digit administrative division code (440000 = Guangdong). Admitting
/// or removing a region, adding a certificate type and changing the quorum need the approval
/// of `quorum` of the current member regions (one vote per region, whichever of its admins
/// casts it). Each region's admins set that region's recognition rules on their own.
contract Consortium is IConsortium {
    /// @notice Seconds a proposal stays open for approval; after that it is stale.
    uint64 public immutable proposalTtl;

    /// @notice Approvals (by distinct current member regions) a proposal needs to execute.
    uint32 public quorum;

    /// @notice Number of current member regions.
    uint32 public memberCount;

    /// @notice Number of proposals ever created; ids run from 1 to this.
    uint256 public proposalCount;

    mapping(uint32 region => Region) private _regions;
    uint32[] private _regionCodes; // every region ever admitted, for enumeration
    // An admin's assignment is current only while its epoch matches the region's: removing a
    // region and admitting it again starts a new epoch, so its former admins lose their power.
    struct AdminRecord {
        uint32 region;
        uint32 epoch;
    }

    mapping(address admin => AdminRecord) private _admins;
    mapping(uint32 region => uint32 epoch) private _epochs;
    mapping(uint256 id => Proposal) private _proposals;
    mapping(uint256 id => uint32[] regions) private _approvers;
    // epoch + 1 of the region when it approved (0 = never): an approval given before a region
    // was removed does not count after it is admitted again.
    mapping(uint256 id => mapping(uint32 region => uint32 epochPlusOne)) private _approvalEpoch;
    mapping(bytes32 typeId => bytes32 schemaHash) private _types;
    bytes32[] private _typeIds;
    mapping(bytes32 ruleKey => RecognitionRule) private _rules;

    /// @param regions_ the founding member regions
    /// @param admins_ one admin address per founding region (same order)
    /// @param quorum_ approvals needed for a proposal, 1 <= quorum <= regions
    /// @param proposalTtl_ seconds a proposal stays open
    constructor(uint32[] memory regions_, address[] memory admins_, uint32 quorum_, uint64 proposalTtl_) {
        if (regions_.length != admins_.length) revert FoundingListMismatch(regions_.length, admins_.length);
        for (uint256 i = 0; i < regions_.length; ++i) {
            _admitRegion(regions_[i], admins_[i]);
        }
        if (quorum_ == 0 || quorum_ > memberCount) revert InvalidQuorum(quorum_, memberCount);
        quorum = quorum_;
        proposalTtl = proposalTtl_;
        emit QuorumChanged(0, quorum_);
    }

    // ------------------------------------------------------------------ modifiers

    modifier onlyAdminOf(uint32 region) {
        if (!isRegionAdmin(region, msg.sender)) revert NotAdminOfRegion(msg.sender, region);
        _;
    }

    // ------------------------------------------------------------------ governance

    /// @notice Propose admitting `region` with `admin` as its first admin. The caller's region
    /// approves at once.
    /// @param region 6-digit division code of the new region
    /// @param admin the new region's first admin
    /// @return id the proposal id
    function proposeAddRegion(uint32 region, address admin) external returns (uint256 id) {
        _checkRegionCode(region);
        if (_regions[region].member) revert RegionAlreadyMember(region);
        if (admin == address(0)) revert ZeroAddress();
        _checkAdminFree(admin);
        return _propose(ProposalKind.AddRegion, abi.encode(region, admin));
    }

    /// @notice Propose removing member `region`. Its agencies can no longer anchor or change
    /// statuses once it is removed; what they anchored before stays verifiable.
    /// @param region the member region to remove
    /// @return id the proposal id
    function proposeRemoveRegion(uint32 region) external returns (uint256 id) {
        if (!_regions[region].member) revert RegionNotMember(region);
        _checkRemovable();
        return _propose(ProposalKind.RemoveRegion, abi.encode(region));
    }

    /// @notice Propose a new certificate type with its field schema (JSON text, kept in the
    /// event log; only its keccak256 hash is stored).
    /// @param typeId the type code, ASCII, left-aligned and zero-padded (e.g. "ID_CARD")
    /// @param schema the field schema as JSON text
    /// @return id the proposal id
    function proposeAddType(bytes32 typeId, string calldata schema) external returns (uint256 id) {
        if (typeId == bytes32(0)) revert InvalidTypeId(typeId);
        if (_types[typeId] != bytes32(0)) revert TypeAlreadyExists(typeId);
        if (bytes(schema).length == 0) revert EmptySchema(typeId);
        return _propose(ProposalKind.AddType, abi.encode(typeId, schema));
    }

    /// @notice Propose a new quorum (approvals needed), 1 <= newQuorum <= member count.
    /// @param newQuorum the proposed quorum
    /// @return id the proposal id
    function proposeQuorum(uint32 newQuorum) external returns (uint256 id) {
        if (newQuorum == 0 || newQuorum > memberCount) revert InvalidQuorum(newQuorum, memberCount);
        return _propose(ProposalKind.SetQuorum, abi.encode(newQuorum));
    }

    /// @notice Approve proposal `id` on behalf of the caller's region. Executes the proposal
    /// when this approval brings it to the quorum; if the change is no longer possible (say,
    /// the type was added meanwhile) the approval reverts with the reason and the proposal
    /// stays open until it expires.
    /// @param id the proposal id
    function approve(uint256 id) external {
        uint32 region = _callerRegion();
        Proposal storage p = _openProposal(id);
        _recordApproval(id, region);
        uint32 approvals = approvalCount(id);
        emit ProposalApproved(id, region, approvals);
        if (approvals >= quorum) _execute(id, p);
    }

    /// @notice Execute proposal `id` if the approvals of current members reach the quorum (for
    /// example after the quorum was lowered while it was open). Anyone may call.
    /// @param id the proposal id
    function execute(uint256 id) external {
        Proposal storage p = _openProposal(id);
        uint32 approvals = approvalCount(id);
        if (approvals < quorum) revert QuorumNotReached(id, approvals, quorum);
        _execute(id, p);
    }

    /// @notice Approvals of proposal `id` that count now: those of regions that are still
    /// members and have not been removed and re-admitted since they approved.
    /// @param id the proposal id
    /// @return n the number of counting approvals
    function approvalCount(uint256 id) public view returns (uint32 n) {
        uint32[] storage approvers = _approvers[id];
        for (uint256 i = 0; i < approvers.length; ++i) {
            uint32 r = approvers[i];
            if (_regions[r].member && _approvalEpoch[id][r] == _epochs[r] + 1) ++n;
        }
    }

    /// @notice A proposal and the regions that approved it (removed regions included).
    /// @param id the proposal id
    function proposal(uint256 id) external view returns (Proposal memory p, uint32[] memory approvers) {
        p = _proposals[id];
        if (p.createdAt == 0) revert UnknownProposal(id);
        approvers = _approvers[id];
    }

    // ------------------------------------------------------------------ region admins

    /// @notice Add another admin key to the caller's region.
    /// @param region the caller's region
    /// @param admin the new admin
    function addRegionAdmin(uint32 region, address admin) external onlyAdminOf(region) {
        if (admin == address(0)) revert ZeroAddress();
        _checkAdminFree(admin);
        _admins[admin] = AdminRecord(region, _epochs[region]);
        ++_regions[region].adminCount;
        emit RegionAdminAdded(region, admin);
    }

    /// @notice Remove an admin key of the caller's region (not its last one).
    /// @param region the caller's region
    /// @param admin the admin to remove
    function removeRegionAdmin(uint32 region, address admin) external onlyAdminOf(region) {
        if (!isRegionAdmin(region, admin)) revert NotAdminOfRegion(admin, region);
        if (_regions[region].adminCount == 1) revert LastAdmin(region);
        delete _admins[admin];
        --_regions[region].adminCount;
        emit RegionAdminRemoved(region, admin);
    }

    // ------------------------------------------------------------------ recognition

    /// @notice Set (or replace) the rule "verifier recognises typeId issued in issuer" for a
    /// time window. Only the verifier region's admins may.
    /// @param verifier the recognising region (the caller's)
    /// @param typeId the certificate type
    /// @param issuer the issuing region, or 0 for any region
    /// @param validFrom start of the window (unix seconds)
    /// @param validUntil end of the window, exclusive (unix seconds), 0 = open-ended
    function setRecognition(uint32 verifier, bytes32 typeId, uint32 issuer, uint64 validFrom, uint64 validUntil)
        external
        onlyAdminOf(verifier)
    {
        if (_types[typeId] == bytes32(0)) revert UnknownType(typeId);
        if (issuer != 0) _checkRegionCode(issuer);
        if (validUntil != 0 && validUntil <= validFrom) revert InvalidValidityWindow(validFrom, validUntil);
        _rules[_ruleKey(verifier, typeId, issuer)] = RecognitionRule(true, validFrom, validUntil);
        emit RecognitionSet(verifier, typeId, issuer, validFrom, validUntil);
    }

    /// @notice Remove a recognition rule of the caller's region.
    /// @param verifier the recognising region (the caller's)
    /// @param typeId the certificate type
    /// @param issuer the issuing region, or 0 for the any-region rule
    function removeRecognition(uint32 verifier, bytes32 typeId, uint32 issuer) external onlyAdminOf(verifier) {
        bytes32 key = _ruleKey(verifier, typeId, issuer);
        if (!_rules[key].exists) revert UnknownRecognitionRule(verifier, typeId, issuer);
        delete _rules[key];
        emit RecognitionRemoved(verifier, typeId, issuer);
    }

    /// @notice The rule for (verifier, typeId, issuer) exactly as stored (issuer 0 = any region).
    function recognitionRule(uint32 verifier, bytes32 typeId, uint32 issuer)
        external
        view
        returns (RecognitionRule memory)
    {
        return _rules[_ruleKey(verifier, typeId, issuer)];
    }

    /// @inheritdoc IConsortium
    /// @dev A region always recognises what its own agencies issue.
    function isRecognized(uint32 verifier, bytes32 typeId, uint32 issuer, uint64 at) external view returns (bool) {
        if (verifier == issuer) return true;
        return _covers(_rules[_ruleKey(verifier, typeId, issuer)], at)
            || _covers(_rules[_ruleKey(verifier, typeId, 0)], at);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IConsortium
    function isMember(uint32 region) external view returns (bool) {
        return _regions[region].member;
    }

    /// @inheritdoc IConsortium
    function isRegionAdmin(uint32 region, address account) public view returns (bool) {
        AdminRecord storage a = _admins[account];
        return region != 0 && a.region == region && a.epoch == _epochs[region] && _regions[region].member;
    }

    /// @notice The member region `account` is currently an admin of (0 if none).
    function adminRegion(address account) public view returns (uint32) {
        uint32 region_ = _admins[account].region;
        return isRegionAdmin(region_, account) ? region_ : 0;
    }

    /// @notice A region's membership record.
    function regionInfo(uint32 code) external view returns (Region memory) {
        return _regions[code];
    }

    /// @notice Every region ever admitted (members and removed ones).
    function regionCodes() external view returns (uint32[] memory) {
        return _regionCodes;
    }

    /// @inheritdoc IConsortium
    function typeExists(bytes32 typeId) external view returns (bool) {
        return _types[typeId] != bytes32(0);
    }

    /// @notice keccak256 of a type's schema JSON (zero if the type does not exist).
    function typeSchemaHash(bytes32 typeId) external view returns (bytes32) {
        return _types[typeId];
    }

    /// @notice Every certificate type, in the order they were added.
    function typeIds() external view returns (bytes32[] memory) {
        return _typeIds;
    }

    // ------------------------------------------------------------------ internals

    function _propose(ProposalKind kind, bytes memory payload) private returns (uint256 id) {
        uint32 region_ = _callerRegion();
        id = ++proposalCount;
        uint64 now_ = uint64(block.timestamp);
        uint64 expiresAt = now_ + proposalTtl;
        _proposals[id] = Proposal(kind, false, region_, now_, expiresAt, payload);
        emit ProposalCreated(id, kind, region_, payload, expiresAt);
        _recordApproval(id, region_);
        emit ProposalApproved(id, region_, 1);
        if (quorum <= 1) _execute(id, _proposals[id]);
    }

    function _recordApproval(uint256 id, uint32 region_) private {
        uint32 current = _epochs[region_] + 1;
        uint32 recorded = _approvalEpoch[id][region_];
        if (recorded == current) revert AlreadyApproved(id, region_);
        if (recorded == 0) _approvers[id].push(region_);
        _approvalEpoch[id][region_] = current;
    }

    function _openProposal(uint256 id) private view returns (Proposal storage p) {
        p = _proposals[id];
        if (p.createdAt == 0) revert UnknownProposal(id);
        if (p.executed) revert ProposalAlreadyExecuted(id);
        if (block.timestamp >= p.expiresAt) revert ProposalExpired(id, p.expiresAt);
    }

    function _execute(uint256 id, Proposal storage p) private {
        p.executed = true;
        ProposalKind kind = p.kind;
        if (kind == ProposalKind.AddRegion) {
            (uint32 region_, address admin) = abi.decode(p.payload, (uint32, address));
            _admitRegion(region_, admin);
        } else if (kind == ProposalKind.RemoveRegion) {
            uint32 region_ = abi.decode(p.payload, (uint32));
            if (!_regions[region_].member) revert RegionNotMember(region_);
            _checkRemovable();
            _regions[region_].member = false;
            _regions[region_].removedAt = uint64(block.timestamp);
            ++_epochs[region_];
            // Unchecked: the region is a member, so memberCount >= 1.
            unchecked {
                --memberCount;
            }
            emit RegionRemoved(region_);
        } else if (kind == ProposalKind.AddType) {
            (bytes32 typeId, string memory schema) = abi.decode(p.payload, (bytes32, string));
            if (_types[typeId] != bytes32(0)) revert TypeAlreadyExists(typeId);
            bytes32 schemaHash = keccak256(bytes(schema));
            _types[typeId] = schemaHash;
            _typeIds.push(typeId);
            emit CertificateTypeAdded(typeId, schemaHash, schema);
        } else {
            uint32 newQuorum = abi.decode(p.payload, (uint32));
            if (newQuorum == 0 || newQuorum > memberCount) revert InvalidQuorum(newQuorum, memberCount);
            emit QuorumChanged(quorum, newQuorum);
            quorum = newQuorum;
        }
        emit ProposalExecuted(id, kind);
    }

    function _admitRegion(uint32 region_, address admin) private {
        _checkRegionCode(region_);
        if (admin == address(0)) revert ZeroAddress();
        _checkAdminFree(admin);
        Region storage r = _regions[region_];
        if (r.member) revert RegionAlreadyMember(region_);
        if (r.admittedAt == 0) _regionCodes.push(region_);
        r.member = true;
        r.adminCount = 1;
        r.admittedAt = uint64(block.timestamp);
        r.removedAt = 0;
        _admins[admin] = AdminRecord(region_, _epochs[region_]);
        ++memberCount;
        emit RegionAdmitted(region_, admin);
    }

    function _checkRemovable() private view {
        // Removing a member must leave enough members to reach the quorum.
        if (memberCount <= quorum) revert QuorumUnreachable(quorum, memberCount - 1);
    }

    function _callerRegion() private view returns (uint32 region_) {
        region_ = adminRegion(msg.sender);
        if (region_ == 0) revert NotRegionAdmin(msg.sender);
    }

    function _checkAdminFree(address admin) private view {
        uint32 current = adminRegion(admin);
        if (current != 0) revert AdminAlreadyAssigned(admin, current);
    }

    function _checkRegionCode(uint32 region_) private pure {
        if (region_ < 100000 || region_ > 999999) revert InvalidRegionCode(region_);
    }

    function _ruleKey(uint32 verifier, bytes32 typeId, uint32 issuer) private pure returns (bytes32) {
        return keccak256(abi.encode(verifier, typeId, issuer));
    }

    function _covers(RecognitionRule storage rule, uint64 at) private view returns (bool) {
        return rule.exists && at >= rule.validFrom && (rule.validUntil == 0 || at < rule.validUntil);
    }
}
