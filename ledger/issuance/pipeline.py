"""The issuance pipeline: rows in -> documents -> batches anchored on chain -> files, QR
codes, a manifest. Each stage is safe to interrupt (see the package's docstring)."""

from __future__ import annotations

import hashlib
import time
from datetime import datetime
from pathlib import Path

from eth_account.signers.local import LocalAccount

from ..document import deployment_suite
from ..errors import InvalidInput
from ..ids import CHINA_STANDARD_TIME
from ..registry import Registry
from ..schema import CertificateSchema, canonical_date
from ..signing import BatchSigner, as_batch_signer
from .anchor import anchor_all, max_batch, preflight
from .build import BuildContext, Built, build_batches, paused_gc
from .journal import JOURNAL, Journal
from .model import (
    STATE_DIR,
    BatchRecord,
    CrashHook,
    IssuanceRejected,
    IssueRequest,
    IssueResult,
    Progress,
    no_crash,
    no_progress,
)
from .outputs import Assembled, OutputAssembly, Outputs, existing_outputs, write_outputs
from .rows import plan_rows, read_rows


def issue(
    registry: Registry,
    signer: LocalAccount | BatchSigner,
    submitter: LocalAccount,
    request: IssueRequest,
    schema: CertificateSchema,
    progress: Progress = no_progress,
    crash: CrashHook = no_crash,
) -> IssueResult:
    """Issue the rows of ``request.rows_path`` as certificates of ``request.agency``.
    ``crash`` is called at each named point (journal-written, batch-sent, batch-anchored,
    output-written): tests kill the process there and prove that a re-run heals it.
    In an sm deployment ``signer`` is a BatchSigner with the key's SM2 key: every batch gets one
    SM2 signature (of its root and identifier tags), in the documents' ``anchor.sm2Signature``."""
    signer = batch_signer_for(registry, signer)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    out = Path(request.out_dir)
    state = out / STATE_DIR
    state.mkdir(parents=True, exist_ok=True)
    rows_bytes = Path(request.rows_path).read_bytes() if Path(request.rows_path).is_file() else None
    if rows_bytes is None:
        raise InvalidInput(f"no such file: {request.rows_path}")
    identity = {
        "input_sha256": hashlib.sha256(rows_bytes).hexdigest(),
        "agency": request.agency,
        "type": request.cert_type,
        "chain_id": registry.chain.chain_id,
        "registry": registry.deployment.certificate_registry,
        "signer": signer.address,
        "skip_invalid": request.skip_invalid,
        "valid_from": request.valid_from,
        "valid_until": request.valid_until,
        "max_batch": request.max_batch,
    }
    if request.issuer_code is not None or request.national is not None:  # older journals lack these keys
        identity |= {"issuer_code": request.issuer_code, "national": request.national}
    journal = Journal.load(state / JOURNAL)
    if journal is not None and journal.identity != identity:
        raise InvalidInput(f"{out} holds another issuance (different input or options); choose a new --out folder")
    resumed = journal is not None
    if journal is not None and journal.complete:
        return _result(
            request, journal, out, resumed=True, anchored_now=0, timings=timings, outputs=existing_outputs(out)
        )

    agency = registry.agency(request.agency)
    if agency is None:
        raise InvalidInput(f"unknown agency {request.agency!r}")
    preflight(registry, signer, request, agency.region)

    assembled: Assembled | None = None  # index.csv and the bundle, when put together while the batches were built
    if journal is None:
        with paused_gc():  # a row is a dict: a hundred thousand of them, and no cycles
            rows = read_rows(Path(request.rows_path))
        if not rows:
            raise InvalidInput(f"{Path(request.rows_path).name}: no rows")
        plan = plan_rows(
            rows, schema, national=request.national, issuer_code=request.issuer_code, recorded_code=agency.credit_code
        )
        if plan.issuer_code is not None and plan.issuer_code != agency.credit_code:
            # identifiers name their issuer by credit code: a code the ledger does not record
            # for this agency would make every certificate verify INVALID
            raise InvalidInput(
                f"{request.agency} has no credit code on the ledger: set it first (certledger agency credit-code "
                f"{request.agency} {plan.issuer_code})"
                if agency.credit_code is None
                else f"the issuer code {plan.issuer_code} is not {request.agency}'s credit code on the ledger "
                f"({agency.credit_code})"
            )
        timings["read"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        # identifier tags cost calldata: batches that may carry them are kept smaller
        tagged = registry.deployment.suite != "intl" or plan.issuer_code is not None
        size = max_batch(registry, request.max_batch, tagged)
        chunks = [(i, rows[s : s + size]) for i, s in enumerate(range(0, len(rows), size))]
        for leftover in state.glob("batch-*"):
            leftover.unlink()  # from a build that never reached the journal: nothing was anchored
        today = datetime.now(CHINA_STANDARD_TIME).date().isoformat()
        ctx = BuildContext(
            schema,
            signer,
            registry.chain.chain_id,
            registry.deployment.certificate_registry,
            request.agency,
            request.cert_type,
            agency.region,
            canonical_date(request.valid_from) if request.valid_from else today,
            canonical_date(request.valid_until) if request.valid_until else None,
            state,
            today,
            request.allow_expired,
            suite=deployment_suite(registry.deployment),
            national=plan.national,
            type_code=plan.type_code,
            issuer_code=plan.issuer_code,
            serial_prefix=hashlib.sha256(rows_bytes).hexdigest()[:10].upper(),
            files=not request.bundle,
            qr=request.qr,
        )
        results: list[Built] = []
        assembly = OutputAssembly(out, state, request.bundle)
        built_rows = 0
        try:  # a rejected or failed build leaves no output begun
            for res in build_batches(ctx, chunks, request.workers):
                results.append(res)
                assembly.add(res.index, res.part if res.root else None)
                built_rows += len(chunks[res.index][1])
                progress("build", built_rows, len(rows))
            results.sort(key=lambda r: r.index)
            bad = sorted((b for r in results for b in r.bad), key=lambda b: b.row)
            if bad and not request.skip_invalid:
                for r in results:
                    if r.part:
                        for suffix in (".jsonl", ".index", ".tags"):
                            (state / f"{r.part}{suffix}").unlink(missing_ok=True)
                raise IssuanceRejected(bad, len(rows))
            batches = [BatchRecord(r.index, r.root, r.size, r.part) for r in results if r.root]
            if not batches:
                raise IssuanceRejected(bad, len(rows))
            assembled = assembly.finish(len(chunks))
        except BaseException:
            assembly.discard()
            raise
        staged = {r.part: (r.leaf_order, r.signature, r.tags) for r in results if r.root}
        journal = Journal(state / JOURNAL, identity, batches, bad)
        journal.save()  # every root is on disk before the first transaction is sent
        crash("journal-written")
        timings["build"] = time.perf_counter() - t1
    else:
        staged = {}

    t2 = time.perf_counter()
    anchored_now = anchor_all(registry, submitter, journal, request, staged, progress, crash)
    timings["anchor"] = time.perf_counter() - t2

    t3 = time.perf_counter()
    outputs = write_outputs(journal, request, state, progress, assembled)
    crash("output-written")
    timings["output"] = time.perf_counter() - t3
    journal.complete = True
    journal.save()
    for b in journal.batches:
        for suffix in (".jsonl", ".index", ".tags"):
            (state / f"{b.part}{suffix}").unlink(missing_ok=True)
    timings["total"] = time.perf_counter() - t0
    return _result(request, journal, out, resumed=resumed, anchored_now=anchored_now, timings=timings, outputs=outputs)


def _result(
    request: IssueRequest,
    journal: Journal,
    out: Path,
    *,
    resumed: bool,
    anchored_now: int,
    timings: dict[str, float],
    outputs: Outputs,
) -> IssueResult:
    return IssueResult(
        request.agency,
        request.cert_type,
        sum(b.size for b in journal.batches),
        journal.bad_rows,
        journal.batches,
        out,
        outputs.bundle,
        outputs.files,
        outputs.qr_codes,
        resumed,
        anchored_now,
        timings,
    )


def batch_signer_for(registry: Registry, signer: LocalAccount | BatchSigner) -> BatchSigner:
    """The signer as the deployment's suite needs it: in the sm suite with an SM2 key whose public
    key is the one registered on chain with the address (else its documents would not verify)."""
    batch_signer = as_batch_signer(signer)
    suite = registry.deployment.suite
    if suite == "intl":
        return BatchSigner(batch_signer.account)
    if batch_signer.sm2 is None:
        raise InvalidInput(f"key {batch_signer.address} has no SM2 key: an {suite} deployment signs batches with SM2")
    registered = registry.sm2_public_key(batch_signer.address)
    if registered != batch_signer.sm2.public_key.to_bytes()[1:]:
        raise InvalidInput(
            f"the SM2 key of {batch_signer.address} is not the one registered on chain with it"
            + ("" if registered else " (none is)")
        )
    return BatchSigner(batch_signer.account, suite, batch_signer.sm2, batch_signer.sm2_signer_id)


def schema_for(registry: Registry, cert_type: str) -> CertificateSchema:
    """The type's schema as anchored on chain (the JSON in the CertificateTypeAdded event)."""
    for t in registry.types():
        if t.code == cert_type:
            if t.schema is None:
                raise InvalidInput(f"type {cert_type} has no schema on chain")
            return CertificateSchema.compile(t.schema)
    raise InvalidInput(f"unknown certificate type {cert_type!r}")
