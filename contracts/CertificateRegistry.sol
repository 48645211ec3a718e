// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {IAgencyRegistry} from "./interfaces/IAgencyRegistry.sol";
import {ICertificateRegistry} from "./interfaces/ICertificateRegistry.sol";
import {IConsortium} from "./interfaces/IConsortium.sol";
import {BatchMerkle} from "./lib/BatchMerkle.sol";

/// @title CertificateRegistry
/// @notice Agencies anchor batches of certificate hashes here: the Merkle root is stored, the
/// hashes go to the event log. The batch root is signed (EIP-712) by an agency key; anyone
/// may submit the transaction, so signing can happen offline. A batch is identified by
/// (agency, root), and statuses (suspension, reinstatement, revocation) are kept per
/// (agency, certificate) and per (agency, batch): one agency can never anchor, block, shadow or
/// change the status of another agency's batches or certificates. `verify` lets anyone with a
/// node check a certificate without trusting a mirror.
///
/// Who may change a status: an enabled key of the agency (role AgencyKey), an admin of its
/// region (RegionAdmin), or the consortium through an executed M-of-N proposal (Consortium),
/// which is how the certificates of a removed region can still be revoked. A suspension is
/// lifted only by the role that imposed it or a stronger one; revocation is final.
///
/// Holder bindings: the agency (an enabled key of it, or an admin of its region: the roles that
/// may change its certificates' statuses) binds a citizen's device key to one of its
/// certificates, stored as the SHA-256 of the key's uncompressed P-256 point; a verifier checks
/// a presentation's key against it. Nothing personal is stored: a certificate hash and a key's
/// hash, per agency like everything else.
contract CertificateRegistry is ICertificateRegistry {
    /// @notice EIP-712 domain name and version; chain id and this contract's address complete
    /// the domain, so a signature cannot be replayed on another chain or deployment.
    string public constant DOMAIN_NAME = "CertLedger";
    string public constant DOMAIN_VERSION = "3";

    bytes32 private constant _DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");

    /// @notice EIP-712 type of the signed batch. `sm2Signature` is keccak256 of the batch's SM2
    /// signature bytes (of empty bytes outside the sm suite), `identifierTags` keccak256 of the
    /// certificates' 16-byte identifier tags concatenated in leaf order (of empty bytes: none).
    bytes32 public constant ANCHOR_TYPEHASH = keccak256(
        "AnchorBatch(bytes32 root,bytes32 certType,bytes32 agency,bytes32 sm2Signature,bytes32 identifierTags)"
    );

    uint256 private constant _EIP712_SIGNATURE = 65;
    uint256 private constant _SM2_SIGNATURE = 64;

    /// @notice The consortium (regions, types, recognition).
    IConsortium public immutable consortium;

    /// @notice The agency and key registry.
    IAgencyRegistry public immutable agencies;

    /// @notice Whether the deployment is of the "sm" suite: every batch carries an SM2 signature.
    bool public immutable sm2Signed;

    mapping(bytes32 agency => mapping(bytes32 root => Batch)) private _batches;
    mapping(bytes32 agency => mapping(bytes32 root => StatusRecord)) private _batchStatus;
    mapping(bytes32 agency => mapping(bytes32 certHash => StatusRecord)) private _certStatus;
    mapping(bytes32 agency => mapping(bytes32 root => bytes32 sm2SignatureHash)) private _sm2Signatures;
    mapping(bytes32 agency => mapping(bytes32 root => bytes32 tagsHash)) private _tagsHashes; // 0: no tags
    mapping(bytes32 agency => mapping(bytes32 certHash => bytes32 keyHash)) private _holderKeys; // 0: unbound

    /// @param consortium_ the deployed Consortium
    /// @param agencies_ the deployed AgencyRegistry
    constructor(IConsortium consortium_, IAgencyRegistry agencies_) {
        consortium = consortium_;
        agencies = agencies_;
        sm2Signed = consortium_.cryptoSuite() == bytes32("sm");
    }

    modifier onlyConsortium() {
        if (msg.sender != address(consortium)) revert IConsortium.NotConsortium(msg.sender);
        _;
    }

    // ------------------------------------------------------------------ anchoring

    /// @notice Anchor a batch of certificate hashes for `agency`. The root is computed here
    /// from `certHashes`, which must be in ascending leaf order (see BatchMerkle), and must be
    /// signed by an enabled, active key of `agency`. The same (agency, root) can be anchored
    /// again only if its earlier anchoring is void (see anchoringVoid): after a key compromise,
    /// the agency re-anchors the same certificates with a new key.
    ///
    /// In the sm suite `signatures` also carries the agency's SM2 signature of the batch. The
    /// contract cannot verify it (no SM2 precompile): the EIP-712 signature commits to it, it is
    /// recorded (its keccak256) and emitted, and verifiers check it against the SM2 public key
    /// registered with the signing key.
    /// @param agency the issuing agency
    /// @param certType the certificate type, which the agency must be allowed to issue
    /// @param certHashes the batch's certificate hashes in leaf order
    /// @param signatures the agency key's 65-byte EIP-712 signature of AnchorBatch(root, certType,
    /// agency, keccak256(sm2 signature), keccak256(identifier tags)), followed in the sm suite by
    /// the 64-byte SM2 signature (r || s)
    /// @param identifierTags empty, or one 16-byte tag per certificate hash in the same order
    /// (bytes16(0) for a certificate without identifier)
    /// @return root the batch's Merkle root
    function anchorBatch(
        bytes32 agency,
        bytes32 certType,
        bytes32[] calldata certHashes,
        bytes calldata signatures,
        bytes16[] calldata identifierTags
    ) external returns (bytes32 root) {
        uint256 n = certHashes.length;
        if (n == 0) revert EmptyBatch();
        if (identifierTags.length != 0 && identifierTags.length != n) {
            revert IdentifierTagsMismatch(identifierTags.length, n);
        }
        root = BatchMerkle.rootOf(certHashes);
        Batch storage existing = _batches[agency][root];
        if (existing.anchoredAt != 0 && anchoringVoid(agency, root) == Reason.None) {
            revert BatchAlreadyAnchored(agency, root);
        }
        address signer = _acceptBatch(agency, certType, root, uint32(n), signatures, identifierTags);
        emit BatchAnchored(
            root, agency, certType, signer, certHashes, signatures[_EIP712_SIGNATURE:], identifierTags
        );
    }

    /// @notice The EIP-712 digest an agency key signs to anchor a batch.
    /// @param root the batch root
    /// @param certType the certificate type
    /// @param agency the agency
    /// @param sm2SignatureHash keccak256 of the SM2 signature (of empty bytes outside the sm suite)
    /// @param identifierTagsHash keccak256 of the identifier tags, 16 bytes each, concatenated
    function batchDigest(
        bytes32 root,
        bytes32 certType,
        bytes32 agency,
        bytes32 sm2SignatureHash,
        bytes32 identifierTagsHash
    ) public view returns (bytes32 digest) {
        bytes32 structHash =
            keccak256(abi.encode(ANCHOR_TYPEHASH, root, certType, agency, sm2SignatureHash, identifierTagsHash));
        bytes32 separator = domainSeparator();
        // EIP-712: keccak256("\x19\x01" || domainSeparator || structHash)
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, hex"1901")
            mstore(add(ptr, 0x02), separator)
            mstore(add(ptr, 0x22), structHash)
            digest := keccak256(ptr, 0x42)
        }
    }

    /// @notice The EIP-712 domain separator of this deployment on this chain.
    /// @dev Written out rather than inherited from OpenZeppelin EIP712: that one pulls in
    /// utils/Bytes.sol, which needs the Cancun MCOPY opcode, and these contracts target Paris.
    function domainSeparator() public view returns (bytes32) {
        return keccak256(
            abi.encode(
                _DOMAIN_TYPEHASH,
                keccak256(bytes(DOMAIN_NAME)),
                keccak256(bytes(DOMAIN_VERSION)),
                block.chainid,
                address(this)
            )
        );
    }

    /// @notice The EIP-712 domain (ERC-5267), for wallets and signing tools.
    function eip712Domain()
        external
        view
        returns (
            bytes1 fields,
            string memory name,
            string memory version,
            uint256 chainId,
            address verifyingContract,
            bytes32 salt,
            uint256[] memory extensions
        )
    {
        return (hex"0f", DOMAIN_NAME, DOMAIN_VERSION, block.chainid, address(this), bytes32(0), new uint256[](0));
    }

    // ------------------------------------------------------------------ status

    /// @notice Suspend (Suspended), reinstate (Active) or revoke (Revoked, final) one of an
    /// agency's certificates. Callable by an enabled key of the agency or an admin of its region.
    /// @param agency the issuing agency
    /// @param certHash the certificate hash
    /// @param status the new status
    /// @param reason a reason code (ASCII, left-aligned), e.g. "HOLDER_REQUEST"
    function setCertificateStatus(bytes32 agency, bytes32 certHash, Status status, bytes32 reason) external {
        _setCertificateStatus(agency, certHash, status, reason, _actorRole(agency));
    }

    /// @notice Suspend, reinstate or revoke every certificate of one of the agency's batches.
    /// @param agency the agency that anchored the batch
    /// @param root the batch root
    /// @param status the new status
    /// @param reason a reason code
    function setBatchStatus(bytes32 agency, bytes32 root, Status status, bytes32 reason) external {
        _setBatchStatus(agency, root, status, reason, _actorRole(agency));
    }

    /// @notice The consortium (an executed M-of-N proposal) changes a certificate's status: for
    /// any agency, including one of a removed region.
    function setCertificateStatusByConsortium(bytes32 agency, bytes32 certHash, Status status, bytes32 reason)
        external
        onlyConsortium
    {
        _setCertificateStatus(agency, certHash, status, reason, IAgencyRegistry.Role.Consortium);
    }

    /// @notice The consortium (an executed M-of-N proposal) changes a whole batch's status.
    function setBatchStatusByConsortium(bytes32 agency, bytes32 root, Status status, bytes32 reason)
        external
        onlyConsortium
    {
        _setBatchStatus(agency, root, status, reason, IAgencyRegistry.Role.Consortium);
    }

    // ------------------------------------------------------------------ holder bindings

    /// @notice Bind holders' device keys to certificates of `agency`, or unbind them: for each i,
    /// certificate `certHashes[i]` gets the key hash `keyHashes[i]` (the SHA-256 of the device's
    /// 65-byte uncompressed P-256 public key; zero unbinds), replacing any earlier binding.
    /// Callable by an enabled key of the agency or an admin of its region. The contract cannot
    /// tell whether the agency anchored the certificate (it keeps batch roots only): a binding
    /// of a hash the agency never anchored binds nothing a verifier would accept.
    /// @param agency the issuing agency
    /// @param certHashes the certificate hashes (none zero)
    /// @param keyHashes one key hash per certificate hash, in the same order
    function bindHolders(bytes32 agency, bytes32[] calldata certHashes, bytes32[] calldata keyHashes) external {
        uint256 n = certHashes.length;
        if (n == 0) revert NoBindings();
        if (keyHashes.length != n) revert BindingsMismatch(n, keyHashes.length);
        IAgencyRegistry.Role role = _actorRole(agency);
        mapping(bytes32 => bytes32) storage keys = _holderKeys[agency];
        for (uint256 i = 0; i < n; ++i) {
            bytes32 certHash = certHashes[i];
            if (certHash == bytes32(0)) revert ZeroCertificateHash(i);
            keys[certHash] = keyHashes[i];
            emit HolderBound(agency, certHash, keyHashes[i], msg.sender, role);
        }
    }

    /// @notice The SHA-256 of the device key bound to certificate `certHash` of `agency`
    /// (zero: none bound).
    function holderKey(bytes32 agency, bytes32 certHash) external view returns (bytes32) {
        return _holderKeys[agency][certHash];
    }

    // ------------------------------------------------------------------ views

    /// @notice A batch of `agency` (anchoredAt == 0 when unknown).
    /// @param agency the agency
    /// @param root the batch root
    function batch(bytes32 agency, bytes32 root) external view returns (Batch memory) {
        return _batches[agency][root];
    }

    /// @notice What the batch's signatures committed to besides the root: keccak256 of its SM2
    /// signature (sm suite; zero otherwise) and of its identifier tags (zero: the batch has none).
    function batchCommitments(bytes32 agency, bytes32 root)
        external
        view
        returns (bytes32 sm2SignatureHash, bytes32 identifierTagsHash)
    {
        return (_sm2Signatures[agency][root], _tagsHashes[agency][root]);
    }

    /// @notice The status of the agency's batch `root` as a whole, and who set it.
    function batchStatus(bytes32 agency, bytes32 root) external view returns (StatusRecord memory) {
        return _batchStatus[agency][root];
    }

    /// @notice The status of certificate `certHash` of `agency` (not counting its batch's), and
    /// who set it.
    function certificateStatus(bytes32 agency, bytes32 certHash) external view returns (StatusRecord memory) {
        return _certStatus[agency][certHash];
    }

    /// @notice Whether the anchoring of (agency, root) is void, and why: its key was reported
    /// compromised at or before the anchoring (KeyCompromised), or its region was removed with a
    /// cut-off at or before it (RegionRemoved). None for a sound or unknown anchoring.
    function anchoringVoid(bytes32 agency, bytes32 root) public view returns (Reason) {
        Batch storage b = _batches[agency][root];
        if (b.anchoredAt == 0) return Reason.None;
        if (agencies.keyStateAt(b.key, b.anchoredAt) == IAgencyRegistry.KeyState.Compromised) {
            return Reason.KeyCompromised;
        }
        (bool voided,) = consortium.anchorVoid(agencies.agency(agency).region, b.anchoredAt);
        return voided ? Reason.RegionRemoved : Reason.None;
    }

    /// @notice What the chain alone can tell about a certificate of `agency` that claims to be in
    /// batch `root`: anchored (by the Merkle proof), the anchoring not void (key compromise,
    /// region removal), its current status and the batch's, and whether `verifierRegion`
    /// recognises it now (0 skips the recognition check). `Ok` is not "valid": the validity
    /// dates are in the document and are the caller's to check.
    /// @param agency the issuing agency
    /// @param certHash the certificate hash
    /// @param root the root of the batch the certificate claims to be in
    /// @param proof the Merkle proof (sorted pairs, as OpenZeppelin MerkleProof)
    /// @param verifierRegion the verifying region, or 0
    /// @return verdict the verdict
    /// @return reason why
    function verify(bytes32 agency, bytes32 certHash, bytes32 root, bytes32[] calldata proof, uint32 verifierRegion)
        external
        view
        returns (Verdict verdict, Reason reason)
    {
        Batch storage b = _batches[agency][root];
        if (b.anchoredAt == 0) return (Verdict.Unknown, Reason.NotAnchored);
        if (!MerkleProof.verifyCalldata(proof, root, BatchMerkle.leafOf(certHash))) {
            return (Verdict.Invalid, Reason.ProofMismatch);
        }
        Reason void = anchoringVoid(agency, root);
        if (void != Reason.None) return (Verdict.Invalid, void);
        Status certStatus = _certStatus[agency][certHash].status;
        Status wholeBatch = _batchStatus[agency][root].status;
        if (certStatus == Status.Revoked) return (Verdict.Revoked, Reason.CertificateRevoked);
        if (wholeBatch == Status.Revoked) return (Verdict.Revoked, Reason.BatchRevoked);
        if (certStatus == Status.Suspended) return (Verdict.Suspended, Reason.CertificateSuspended);
        if (wholeBatch == Status.Suspended) return (Verdict.Suspended, Reason.BatchSuspended);
        if (verifierRegion != 0) {
            uint32 issuer = agencies.agency(agency).region;
            if (!consortium.isRecognized(verifierRegion, b.certType, issuer, uint64(block.timestamp))) {
                return (Verdict.NotRecognized, Reason.NoRecognitionRule);
            }
        }
        return (Verdict.Ok, Reason.None);
    }

    /// @notice Everything a verification asks the chain about certificate `certHash` of
    /// `agency`'s batch `root`, in one call: the batch, its key's life cycle, the agency's region,
    /// whether a removal of that region voids the anchoring, the certificate's and the batch's
    /// status (with who set them), and whether `verifierRegion` (0: none) recognises the batch's
    /// type from that region at time `at`. The verifier applies the rules to these facts as it
    /// does to the mirror's.
    function inspect(bytes32 agency, bytes32 certHash, bytes32 root, uint32 verifierRegion, uint64 at)
        external
        view
        returns (Inspection memory out)
    {
        out.batch = _batches[agency][root];
        out.issuerRegion = agencies.agency(agency).region;
        out.issuerCreditCode = agencies.creditCode(agency);
        if (out.batch.anchoredAt != 0) {
            out.key = agencies.key(out.batch.key);
            (out.voided, out.cutoff) = consortium.anchorVoid(out.issuerRegion, out.batch.anchoredAt);
            out.recognized = verifierRegion == 0
                || consortium.isRecognized(verifierRegion, out.batch.certType, out.issuerRegion, at);
        }
        out.certificateStatus = _certStatus[agency][certHash];
        out.batchStatus = _batchStatus[agency][root];
        out.blockNumber = uint64(block.number);
        out.blockTime = uint64(block.timestamp);
        if (out.batch.anchoredAt != 0) {
            out.sm2SignatureHash = _sm2Signatures[agency][root];
            out.identifierTagsHash = _tagsHashes[agency][root];
            out.sm2PublicKey = agencies.sm2PublicKey(out.batch.key);
        }
    }

    // ------------------------------------------------------------------ internals

    /// @dev Recover the signing key, check that it may anchor, record the batch and what its
    /// signature committed to (keccak256 of the SM2 signature and of the identifier tags).
    function _acceptBatch(
        bytes32 agency,
        bytes32 certType,
        bytes32 root,
        uint32 size,
        bytes calldata signatures,
        bytes16[] calldata tags
    ) private returns (address signer) {
        uint256 expected = sm2Signed ? _EIP712_SIGNATURE + _SM2_SIGNATURE : _EIP712_SIGNATURE;
        if (signatures.length != expected) revert InvalidSignatures(signatures.length, expected);
        bytes32 sm2Hash = keccak256(signatures[_EIP712_SIGNATURE:]);
        bytes32 tagsHash = _tagsHash(tags);
        signer = ECDSA.recover(batchDigest(root, certType, agency, sm2Hash, tagsHash), signatures[:_EIP712_SIGNATURE]);
        _checkCanAnchor(signer, agency, certType);
        _batches[agency][root] = Batch(signer, uint64(block.timestamp), size, certType);
        if (sm2Signed) _sm2Signatures[agency][root] = sm2Hash;
        bytes32 storedTags = tags.length == 0 ? bytes32(0) : tagsHash;
        if (_tagsHashes[agency][root] != storedTags) _tagsHashes[agency][root] = storedTags;
    }

    /// @dev keccak256 of the tags as 16-byte values back to back (ABI calldata pads each to 32).
    function _tagsHash(bytes16[] calldata tags) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            let n := tags.length
            let ptr := mload(0x40)
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                mstore(add(ptr, mul(i, 16)), calldataload(add(tags.offset, mul(i, 32))))
            }
            h := keccak256(ptr, mul(n, 16))
        }
    }

    function _checkCanAnchor(address signer, bytes32 agency, bytes32 certType) private view {
        IAgencyRegistry.Key memory k = agencies.key(signer);
        if (k.agency == bytes32(0)) revert IAgencyRegistry.UnknownKey(signer);
        if (k.agency != agency) revert KeyNotOfAgency(signer, agency);
        uint64 now_ = uint64(block.timestamp);
        if (k.compromisedSince != 0 && now_ >= k.compromisedSince) revert KeyCompromised(signer, k.compromisedSince);
        if (now_ < k.activeFrom) revert KeyNotYetActive(signer, k.activeFrom);
        if (k.retiredAt != 0 && now_ >= k.retiredAt) revert KeyRetired(signer, k.retiredAt);
        IAgencyRegistry.Agency memory a = agencies.agency(agency);
        if (a.suspended) revert IAgencyRegistry.AgencySuspended(agency);
        if (!consortium.isMember(a.region)) revert IConsortium.RegionNotMember(a.region);
        uint32 epoch = consortium.regionEpoch(a.region);
        if (a.epoch != epoch) revert AgencyDisabled(agency);
        if (k.epoch != epoch) revert KeyDisabled(signer);
        if (!agencies.isTypeAllowed(agency, certType)) revert TypeNotAllowed(agency, certType);
    }

    function _actorRole(bytes32 agency) private view returns (IAgencyRegistry.Role role) {
        role = agencies.statusRole(agency, msg.sender);
        if (role == IAgencyRegistry.Role.None) revert NotAuthorized(msg.sender, agency);
    }

    function _setCertificateStatus(
        bytes32 agency,
        bytes32 certHash,
        Status status,
        bytes32 reason,
        IAgencyRegistry.Role role
    ) private {
        StatusRecord storage record = _certStatus[agency][certHash];
        _transition(certHash, record, status, role);
        emit CertificateStatusChanged(certHash, agency, status, reason, msg.sender, role, uint64(block.timestamp));
    }

    function _setBatchStatus(bytes32 agency, bytes32 root, Status status, bytes32 reason, IAgencyRegistry.Role role)
        private
    {
        if (_batches[agency][root].anchoredAt == 0) revert UnknownBatch(agency, root);
        StatusRecord storage record = _batchStatus[agency][root];
        _transition(root, record, status, role);
        emit BatchStatusChanged(root, agency, status, reason, msg.sender, role, uint64(block.timestamp));
    }

    /// @dev Revoked is final. A suspension can be lifted (Active) only by the role that imposed
    /// it or a stronger one, and taken over (Suspended again) only by a stronger role, so that
    /// an agency key cannot undo what its region admin or the consortium decided.
    function _transition(bytes32 subject, StatusRecord storage record, Status to, IAgencyRegistry.Role role) private {
        Status from = record.status;
        if (from == Status.Revoked) revert AlreadyRevoked(subject);
        if (from == Status.Suspended && to != Status.Revoked && role < record.role) {
            revert SuspensionHeldByStrongerRole(subject, record.role, role);
        }
        if (from == to && !(to == Status.Suspended && role > record.role)) {
            revert InvalidStatusTransition(subject, from, to);
        }
        record.status = to;
        record.role = role;
    }
}
