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
/// may submit the transaction, so signing can happen offline. Statuses (suspension,
/// reinstatement, revocation) are kept per certificate and per batch. `verify` lets anyone
/// with a node check a certificate without trusting a mirror.
contract CertificateRegistry is ICertificateRegistry {
    /// @notice EIP-712 domain name and version; chain id and this contract's address complete
    /// the domain, so a signature cannot be replayed on another chain or deployment.
    string public constant DOMAIN_NAME = "CertLedger";
    string public constant DOMAIN_VERSION = "1";

    bytes32 private constant _DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");

    /// @notice EIP-712 type of the signed batch.
    bytes32 public constant ANCHOR_TYPEHASH = keccak256("AnchorBatch(bytes32 root,bytes32 certType,bytes32 agency)");

    /// @notice The consortium (regions, types, recognition).
    IConsortium public immutable consortium;

    /// @notice The agency and key registry.
    IAgencyRegistry public immutable agencies;

    mapping(bytes32 root => Batch) private _batches;
    mapping(bytes32 root => Status) private _batchStatus;
    // Keyed by agency first: an agency can only ever affect the status of its own certificates.
    mapping(bytes32 agency => mapping(bytes32 certHash => Status)) private _certStatus;

    /// @param consortium_ the deployed Consortium
    /// @param agencies_ the deployed AgencyRegistry
    constructor(IConsortium consortium_, IAgencyRegistry agencies_) {
        consortium = consortium_;
        agencies = agencies_;
    }

    // ------------------------------------------------------------------ anchoring

    /// @notice Anchor a batch of certificate hashes. The root is computed here from
    /// `certHashes`, which must be in ascending leaf order (see BatchMerkle), and must be
    /// signed by an active key of `agency`.
    /// @param agency the issuing agency
    /// @param certType the certificate type, which the agency must be allowed to issue
    /// @param certHashes the batch's certificate hashes in leaf order
    /// @param signature the agency key's EIP-712 signature of AnchorBatch(root, certType, agency)
    /// @return root the batch's Merkle root
    function anchorBatch(bytes32 agency, bytes32 certType, bytes32[] calldata certHashes, bytes calldata signature)
        external
        returns (bytes32 root)
    {
        uint256 n = certHashes.length;
        if (n == 0) revert EmptyBatch();
        root = BatchMerkle.rootOf(certHashes);
        if (_batches[root].anchoredAt != 0) revert BatchAlreadyAnchored(root);
        address signer = ECDSA.recover(batchDigest(root, certType, agency), signature);
        _checkCanAnchor(signer, agency, certType);
        _batches[root] = Batch(signer, uint64(block.timestamp), uint32(n), certType);
        emit BatchAnchored(root, agency, certType, signer, certHashes);
    }

    /// @notice The EIP-712 digest an agency key signs to anchor a batch.
    /// @param root the batch root
    /// @param certType the certificate type
    /// @param agency the agency
    function batchDigest(bytes32 root, bytes32 certType, bytes32 agency) public view returns (bytes32 digest) {
        bytes32 structHash = keccak256(abi.encode(ANCHOR_TYPEHASH, root, certType, agency));
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
    /// agency's certificates. Callable by an active key of the agency or an admin of its region.
    /// @param agency the issuing agency
    /// @param certHash the certificate hash
    /// @param status the new status
    /// @param reason a reason code (ASCII, left-aligned), e.g. "HOLDER_REQUEST"
    function setCertificateStatus(bytes32 agency, bytes32 certHash, Status status, bytes32 reason) external {
        _checkStatusActor(agency);
        _certStatus[agency][certHash] = _transition(certHash, _certStatus[agency][certHash], status);
        emit CertificateStatusChanged(certHash, agency, status, reason, msg.sender, uint64(block.timestamp));
    }

    /// @notice Suspend, reinstate or revoke every certificate of a batch at once.
    /// @param root the batch root
    /// @param status the new status
    /// @param reason a reason code
    function setBatchStatus(bytes32 root, Status status, bytes32 reason) external {
        Batch storage b = _batches[root];
        if (b.anchoredAt == 0) revert UnknownBatch(root);
        bytes32 agency = agencies.key(b.key).agency;
        _checkStatusActor(agency);
        _batchStatus[root] = _transition(root, _batchStatus[root], status);
        emit BatchStatusChanged(root, agency, status, reason, msg.sender, uint64(block.timestamp));
    }

    // ------------------------------------------------------------------ views

    /// @notice An anchored batch (anchoredAt == 0 when unknown).
    /// @param root the batch root
    function batch(bytes32 root) external view returns (Batch memory) {
        return _batches[root];
    }

    /// @notice The status of batch `root` as a whole.
    function batchStatus(bytes32 root) external view returns (Status) {
        return _batchStatus[root];
    }

    /// @notice The status of certificate `certHash` of `agency`, not counting its batch's status.
    function certificateStatus(bytes32 agency, bytes32 certHash) external view returns (Status) {
        return _certStatus[agency][certHash];
    }

    /// @notice Verify a certificate hash against the chain alone: anchored in `root` (by the
    /// Merkle proof), signed by a key not compromised at anchoring, current status, and
    /// whether `verifierRegion` recognises it now (0 skips the recognition check).
    /// @param certHash the certificate hash
    /// @param root the root of the batch the certificate claims to be in
    /// @param proof the Merkle proof (sorted pairs, as OpenZeppelin MerkleProof)
    /// @param verifierRegion the verifying region, or 0
    /// @return verdict the verdict
    /// @return reason why
    function verify(bytes32 certHash, bytes32 root, bytes32[] calldata proof, uint32 verifierRegion)
        external
        view
        returns (Verdict verdict, Reason reason)
    {
        Batch storage b = _batches[root];
        if (b.anchoredAt == 0) return (Verdict.Unknown, Reason.NotAnchored);
        if (!MerkleProof.verifyCalldata(proof, root, BatchMerkle.leafOf(certHash))) {
            return (Verdict.Invalid, Reason.ProofMismatch);
        }
        if (agencies.keyStateAt(b.key, b.anchoredAt) == IAgencyRegistry.KeyState.Compromised) {
            return (Verdict.Invalid, Reason.KeyCompromised);
        }
        bytes32 agency = agencies.key(b.key).agency;
        Status certStatus = _certStatus[agency][certHash];
        Status wholeBatch = _batchStatus[root];
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
        return (Verdict.Valid, Reason.None);
    }

    // ------------------------------------------------------------------ internals

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
        if (!agencies.isTypeAllowed(agency, certType)) revert TypeNotAllowed(agency, certType);
    }

    function _checkStatusActor(bytes32 agency) private view {
        if (!agencies.canManageStatus(agency, msg.sender)) revert NotAuthorized(msg.sender, agency);
    }

    function _transition(bytes32 subject, Status from, Status to) private pure returns (Status) {
        if (from == Status.Revoked) revert AlreadyRevoked(subject);
        if (from == to) revert InvalidStatusTransition(subject, from, to);
        return to;
    }
}
