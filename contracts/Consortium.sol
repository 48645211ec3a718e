// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IConsortium} from "./interfaces/IConsortium.sol";

/// @title Consortium
/// @notice The member regions of the ledger and what they decide together. Regions are
/// identified by their 6-digit administrative division code (440000 = Guangdong). Admitting
/// or removing a region, adding a certificate type, changing the quorum rule and consortium
/// actions on the other contracts (correcting a key-compromise report, changing the status of
/// any certificate or batch) need approvals from more than `quorumNumerator/quorumDenominator`
/// of the current member regions (one vote per region, whichever of its admins casts it). The
/// rule is a fraction, so the quorum follows the membership: more than half of 3 regions is 2,
/// of 4 it is 3. Each region's admins set that region's recognition rules on their own.
contract Consortium is IConsortium {
    /// @notice Seconds a proposal stays open for approval; after that it is stale.
    uint64 public immutable proposalTtl;

    /// @notice The cryptographic suite of this deployment, chosen once at deployment: "intl"
    /// (SHA-256 documents, EIP-712 batch signatures) or "sm" (SM3 documents, and an SM2-with-SM3
    /// batch signature by an SM2 key registered next to every agency key), ASCII left-aligned.
    bytes32 public immutable cryptoSuite;

    bytes32 private constant _SUITE_INTL = "intl";
    bytes32 private constant _SUITE_SM = "sm";

    /// @notice A proposal needs approvals from more than quorumNumerator/quorumDenominator of
    /// the member regions (0/1: one approval is enough).
    uint32 public quorumNumerator;

    /// @notice See quorumNumerator.
    uint32 public quorumDenominator;

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
    mapping(uint32 region => VoidWindow[]) private _voidWindows;
    mapping(uint256 id => Proposal) private _proposals;
    mapping(uint256 id => uint32[] regions) private _approvers;
    // epoch + 1 of the region when it approved (0 = never): an approval given before a region
    // was removed does not count after it is admitted again.
    mapping(uint256 id => mapping(uint32 region => uint32 epochPlusOne)) private _approvalEpoch;
    mapping(bytes32 typeId => bytes32 schemaHash) private _types;
    bytes32[] private _typeIds;
    mapping(bytes32 ruleKey => RecognitionRule) private _rules;
    mapping(bytes32 verifierId => Verifier) private _verifiers;

    /// @param regions_ the founding member regions
    /// @param admins_ one admin address per founding region (same order)
    /// @param quorumNumerator_ with quorumDenominator_, the quorum rule: a proposal needs
    /// approvals from more than numerator/denominator of the members (1/2: a majority)
    /// @param quorumDenominator_ see quorumNumerator_
    /// @param proposalTtl_ seconds a proposal stays open
    /// @param cryptoSuite_ "intl" or "sm" (ASCII, left-aligned); anything else reverts
    constructor(
        uint32[] memory regions_,
        address[] memory admins_,
        uint32 quorumNumerator_,
        uint32 quorumDenominator_,
        uint64 proposalTtl_,
        bytes32 cryptoSuite_
    ) {
        if (cryptoSuite_ != _SUITE_INTL && cryptoSuite_ != _SUITE_SM) revert UnknownCryptoSuite(cryptoSuite_);
        cryptoSuite = cryptoSuite_;
        if (regions_.length != admins_.length) revert FoundingListMismatch(regions_.length, admins_.length);
        if (regions_.length == 0) revert FoundingListMismatch(0, 0);
        for (uint256 i = 0; i < regions_.length; ++i) {
            _admitRegion(regions_[i], admins_[i]);
        }
        _setQuorumRule(quorumNumerator_, quorumDenominator_);
        proposalTtl = proposalTtl_;
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
    /// statuses once it is removed. What they anchored before `cutoff` stays verifiable (and
    /// recognised wherever a rule recognises it); anchors made at or after `cutoff` become void
    /// (verdict INVALID), for a region whose keys were abused before it could be removed.
    /// @param region the member region to remove
    /// @param cutoff 0: nothing becomes void; else a time not in the future
    /// @return id the proposal id
    function proposeRemoveRegion(uint32 region, uint64 cutoff) external returns (uint256 id) {
        if (!_regions[region].member) revert RegionNotMember(region);
        if (memberCount <= 1) revert LastMember(region);
        if (cutoff > block.timestamp) revert InvalidCutoff(cutoff, uint64(block.timestamp));
        return _propose(ProposalKind.RemoveRegion, abi.encode(region, cutoff));
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

    /// @notice Propose a new quorum rule: more than numerator/denominator of the members must
    /// approve (0 <= numerator < denominator <= 100; 1/2 = a majority, 2/3 = more than two thirds).
    /// @param numerator the fraction's numerator
    /// @param denominator the fraction's denominator
    /// @return id the proposal id
    function proposeQuorumRule(uint32 numerator, uint32 denominator) external returns (uint256 id) {
        _checkQuorumRule(numerator, denominator);
        return _propose(ProposalKind.SetQuorum, abi.encode(numerator, denominator));
    }

    /// @notice Propose a consortium action: when the proposal executes, this contract calls
    /// `target` with `data`. The other contracts accept certain calls only from the consortium
    /// (e.g. AgencyRegistry.correctKeyCompromise, CertificateRegistry.setCertificateStatusByConsortium).
    /// @param target the contract to call
    /// @param data the call (selector and arguments)
    /// @return id the proposal id
    function proposeCall(address target, bytes calldata data) external returns (uint256 id) {
        if (target == address(0) || target == address(this) || target.code.length == 0) {
            revert InvalidCallTarget(target);
        }
        return _propose(ProposalKind.Call, abi.encode(target, data));
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
        if (approvals >= quorum()) _execute(id, p);
    }

    /// @notice Execute proposal `id` if the approvals of current members reach the quorum (for
    /// example after the quorum was lowered while it was open). Anyone may call.
    /// @param id the proposal id
    function execute(uint256 id) external {
        Proposal storage p = _openProposal(id);
        uint32 approvals = approvalCount(id);
        uint32 needed = quorum();
        if (approvals < needed) revert QuorumNotReached(id, approvals, needed);
        _execute(id, p);
    }

    /// @notice Approvals a proposal needs now: more than numerator/denominator of the members.
    function quorum() public view returns (uint32) {
        return uint32((uint256(memberCount) * quorumNumerator) / quorumDenominator) + 1;
    }

    /// @notice Approvals of proposal `id` that count now: those of regions that are still
    /// members and have not been removed and re-admitted since they approved.
    /// @param id the proposal id
    /// @return n the number of counting approvals
    function approvalCount(uint256 id) public view returns (uint32 n) {
        uint32[] storage approvers = _approvers[id];
        for (uint256 i = 0; i < approvers.length; ++i) {
            uint32 r = approvers[i];
            if (_regions[r].member && _approvalEpoch[id][r] == _regions[r].epoch + 1) ++n;
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
        _admins[admin] = AdminRecord(region, _regions[region].epoch);
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

    // ------------------------------------------------------------------ verifier organisations

    /// @notice Register a verifier organisation of the caller's region.
    /// @param id the organisation's code (ASCII, left-aligned)
    /// @param region its region (the caller's)
    /// @param account the address that anchors its receipts
    /// @param apiKeyHash SHA-256 of its API key
    /// @param role 1 (VERIFIER)
    /// @param ratePerMinute the requests per minute an API accepts from it (0: no limit)
    function registerVerifier(
        bytes32 id,
        uint32 region,
        address account,
        bytes32 apiKeyHash,
        uint8 role,
        uint32 ratePerMinute
    ) external onlyAdminOf(region) {
        if (id == bytes32(0) || apiKeyHash == bytes32(0)) revert InvalidVerifier(id);
        Verifier storage v = _verifiers[id];
        if (v.region != 0 && v.epoch == _regions[v.region].epoch && _regions[v.region].member) {
            revert VerifierAlreadyRegistered(id);
        }
        _verifiers[id] = Verifier(region, account, apiKeyHash, role, ratePerMinute, false, _regions[region].epoch);
        _setVerifier(id);
    }

    /// @notice Change a verifier organisation of the caller's region: a new account or API key,
    /// role, rate, or suspend it (and lift the suspension).
    function updateVerifier(
        bytes32 id,
        address account,
        bytes32 apiKeyHash,
        uint8 role,
        uint32 ratePerMinute,
        bool suspended
    ) external {
        Verifier storage v = _verifiers[id];
        if (v.region == 0) revert UnknownVerifier(id);
        if (!isRegionAdmin(v.region, msg.sender)) revert NotAdminOfRegion(msg.sender, v.region);
        if (apiKeyHash == bytes32(0)) revert InvalidVerifier(id);
        (v.account, v.apiKeyHash, v.role, v.ratePerMinute, v.suspended) =
            (account, apiKeyHash, role, ratePerMinute, suspended);
        _setVerifier(id);
    }

    /// @notice Anchor the Merkle root of `count` of the verifier's receipts (its account only,
    /// while it is not suspended and its region is a member in the epoch it was registered in).
    function anchorReceipts(bytes32 id, bytes32 root, uint32 count) external {
        Verifier storage v = _verifiers[id];
        if (!verifierActive(id) || msg.sender != v.account) revert NotVerifierAccount(id, msg.sender);
        if (count == 0 || root == bytes32(0)) revert EmptyReceiptBatch();
        emit ReceiptsAnchored(id, root, count);
    }

    /// @notice Publish where the trust snapshot of block `height` is stored (`cid`) and its
    /// signed `digest` (an admin of a member region; the snapshot itself carries the region
    /// admins' signatures, checked offline).
    function anchorSnapshot(uint64 height, bytes32 digest, string calldata cid) external {
        uint32 region_ = adminRegion(msg.sender);
        if (region_ == 0) revert NotRegionAdmin(msg.sender);
        if (digest == bytes32(0) || bytes(cid).length == 0 || bytes(cid).length > 128 || height > block.number) {
            revert InvalidSnapshot();
        }
        emit SnapshotAnchored(region_, height, digest, cid);
    }

    /// @notice A verifier organisation's record (region 0: never registered).
    function verifier(bytes32 id) external view returns (Verifier memory) {
        return _verifiers[id];
    }

    /// @notice Whether the verifier stands now: registered, not suspended, its region a member
    /// in the epoch it was registered in.
    function verifierActive(bytes32 id) public view returns (bool) {
        Verifier storage v = _verifiers[id];
        return v.region != 0 && !v.suspended && _regions[v.region].member && v.epoch == _regions[v.region].epoch;
    }

    function _setVerifier(bytes32 id) private {
        Verifier storage v = _verifiers[id];
        if (v.role != 1) revert InvalidVerifierRole(v.role);
        if (v.account == address(0)) revert ZeroAddress();
        emit VerifierSet(id, v.region, v.account, v.apiKeyHash, v.role, v.ratePerMinute, v.suspended);
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IConsortium
    function isMember(uint32 region) external view returns (bool) {
        return _regions[region].member;
    }

    /// @inheritdoc IConsortium
    function isRegionAdmin(uint32 region, address account) public view returns (bool) {
        AdminRecord storage a = _admins[account];
        return region != 0 && a.region == region && a.epoch == _regions[region].epoch && _regions[region].member;
    }

    /// @inheritdoc IConsortium
    function regionEpoch(uint32 region) external view returns (uint32) {
        return _regions[region].epoch;
    }

    /// @inheritdoc IConsortium
    function anchorVoid(uint32 region, uint64 at) external view returns (bool voided, uint64 cutoff) {
        VoidWindow[] storage windows = _voidWindows[region];
        for (uint256 i = 0; i < windows.length; ++i) {
            VoidWindow storage w = windows[i];
            if (at >= w.cutoff && at <= w.removedAt) return (true, w.cutoff);
        }
        return (false, 0);
    }

    /// @notice Every void window of a region's removals (anchors in [cutoff, removedAt] are void).
    function voidWindows(uint32 region) external view returns (VoidWindow[] memory) {
        return _voidWindows[region];
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
        if (quorum() <= 1) _execute(id, _proposals[id]);
    }

    function _recordApproval(uint256 id, uint32 region_) private {
        uint32 current = _regions[region_].epoch + 1;
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
            (uint32 region_, uint64 cutoff) = abi.decode(p.payload, (uint32, uint64));
            _removeRegion(region_, cutoff);
        } else if (kind == ProposalKind.AddType) {
            (bytes32 typeId, string memory schema) = abi.decode(p.payload, (bytes32, string));
            if (_types[typeId] != bytes32(0)) revert TypeAlreadyExists(typeId);
            bytes32 schemaHash = keccak256(bytes(schema));
            _types[typeId] = schemaHash;
            _typeIds.push(typeId);
            emit CertificateTypeAdded(typeId, schemaHash, schema);
        } else if (kind == ProposalKind.SetQuorum) {
            (uint32 numerator, uint32 denominator) = abi.decode(p.payload, (uint32, uint32));
            _setQuorumRule(numerator, denominator);
        } else {
            (address target, bytes memory data) = abi.decode(p.payload, (address, bytes));
            // The proposal is marked executed first: a call back into approve/execute finds it closed.
            (bool ok, bytes memory result) = target.call(data);
            if (!ok) {
                // Bubble the target's own error up, so the approval fails with its reason.
                assembly ("memory-safe") {
                    revert(add(result, 0x20), mload(result))
                }
            }
        }
        emit ProposalExecuted(id, kind);
    }

    function _removeRegion(uint32 region_, uint64 cutoff) private {
        Region storage r = _regions[region_];
        if (!r.member) revert RegionNotMember(region_);
        if (memberCount <= 1) revert LastMember(region_);
        uint64 now_ = uint64(block.timestamp);
        if (cutoff == 0 || cutoff > now_) cutoff = now_;
        r.member = false;
        r.removedAt = now_;
        ++r.epoch;
        if (cutoff < now_) _voidWindows[region_].push(VoidWindow(cutoff, now_));
        // Unchecked: the region is a member, so memberCount >= 1.
        unchecked {
            --memberCount;
        }
        emit RegionRemoved(region_, cutoff);
    }

    function _setQuorumRule(uint32 numerator, uint32 denominator) private {
        _checkQuorumRule(numerator, denominator);
        quorumNumerator = numerator;
        quorumDenominator = denominator;
        emit QuorumRuleChanged(numerator, denominator);
    }

    function _checkQuorumRule(uint32 numerator, uint32 denominator) private pure {
        if (denominator == 0 || denominator > 100 || numerator >= denominator) {
            revert InvalidQuorumRule(numerator, denominator);
        }
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
        _admins[admin] = AdminRecord(region_, r.epoch);
        ++memberCount;
        emit RegionAdmitted(region_, admin, r.epoch);
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
