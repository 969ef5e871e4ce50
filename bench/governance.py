"""What a tally costs beyond its signatures: ``tally_document`` over 10,000 ballots (2,000 with
``--quick``) against recovering the same 10,000 signatures alone, in one process.

A proposal of a model whose shares 10,000 wallets hold (their transfers indexed as the sync
writes them: one ``HoldingChange`` per wallet under an indexed event), and one EIP-712 ballot
per wallet, signed before the timing with each wallet's own key. The tally reads every ballot,
re-checks its signature (the EIP-712 digest and ``ecrecover``), weighs its voter at the
snapshot from the indexed transfers (one aggregate query), keeps the latest per wallet, counts,
and builds the published document and its keccak-256 hash. The baseline recovers the same
signatures from their digests (``Account._recover_hash``) and nothing else. The figure is the
ratio of the medians: target <= 1.3.
"""

from __future__ import annotations

from bench._common import case, measure, migrate

TARGET = "<=1.3"
QUICK = {"ballots": 2_000, "warmup": 1, "samples": 3}
FULL = {"ballots": 10_000, "warmup": 2, "samples": 9}
GOVERNOR = "0x" + "60" * 20
TOKEN = "0x" + "17" * 20


def _world(count: int):
    import secrets
    from datetime import timedelta

    from django.utils import timezone
    from eth_account import Account

    from chain.choices import OfferKind
    from chain.models import Deployment, IndexedEvent, Network
    from licensing import governance
    from licensing.models import Ballot, ChainOffer, HoldingChange, ModelTokenomics, Proposal
    from models_hub import services
    from models_hub.choices import Task
    from portal.services import organization_create

    network = Network.objects.create(name="bench-gov", chain_id=990_077, confirmation_depth=1)
    Deployment.objects.create(
        network=network, contract_name="ModelGovernor", address=GOVERNOR, deploy_block=0,
        code_hash="0x", sources_sha256="",
    )  # fmt: skip
    organization = organization_create(name="Governance Bench", slug="gov-bench")
    model = services.model_create(organization=organization, name="Voted", task=Task.REGRESSION)
    model_id = "0x" + secrets.token_hex(32)
    ModelTokenomics.objects.create(model=model, chain_model_id=model_id)
    ChainOffer.objects.create(
        network=network, token_address=TOKEN, token_id=9, model_id=model_id,
        kind=OfferKind.SHARES, price=0, currency="", duration=0, max_supply=0,
        transferable=True, terms_hash="0x", active=True, block_number=1,
    )  # fmt: skip
    mint = IndexedEvent.objects.create(
        network=network, chain_id=network.chain_id, contract_name="LicenseToken", address=TOKEN,
        name="TransferBatch", args={}, block_number=5, block_hash="0x" + "ab" * 32,
        tx_hash="0x" + "cd" * 32, log_index=0, final=True,
    )  # fmt: skip
    keys = [Account.create() for _ in range(count)]
    HoldingChange.objects.bulk_create(
        HoldingChange(
            event=mint, network=network, token_address=TOKEN, token_id=9,
            holder=key.address, delta=1 + number % 50,
        )
        for number, key in enumerate(keys)
    )  # fmt: skip
    now = timezone.now()
    proposal = Proposal.objects.create(
        model=model, network=network, proposal_id="0x" + secrets.token_hex(32), title="Bench",
        share_token=TOKEN, share_token_id=9, snapshot_block=5,
        total_weight=sum(1 + n % 50 for n in range(count)),
        opens_at=now - timedelta(days=3), closes_at=now - timedelta(seconds=1), quorum_bps=2000,
        pass_threshold_bps=5000,
    )  # fmt: skip
    domain = governance.Domain(network.chain_id, _checksum(GOVERNOR))
    issued = int((now - timedelta(days=1)).timestamp())
    digests, ballots = [], []
    for number, key in enumerate(keys):
        support = number % 3
        digest = governance.ballot_digest(domain, proposal.proposal_id, support, issued)
        signature = Account._sign_hash(digest, key.key).signature.hex()
        digests.append(digest)
        ballots.append(
            Ballot(
                proposal=proposal, voter=key.address, support=support, issued_at=issued,
                signature="0x" + signature.removeprefix("0x"), weight=1 + number % 50,
            )
        )  # fmt: skip
    Ballot.objects.bulk_create(ballots, batch_size=2000)
    signatures = [bytes.fromhex(b.signature[2:]) for b in ballots]
    return proposal, digests, signatures


def _checksum(address: str) -> str:
    from eth_utils import to_checksum_address

    return to_checksum_address(address)


def run(quick: bool) -> list[dict]:
    migrate()
    from eth_account import Account

    from licensing import governance

    params = QUICK if quick else FULL
    proposal, digests, signatures = _world(params["ballots"])
    pairs = list(zip(digests, signatures, strict=True))

    def tally():
        document, outcome = governance.tally_document(proposal)
        return governance.document_hash(document), outcome

    def recover():
        return [Account._recover_hash(digest, signature=sig) for digest, sig in pairs]

    def check(name, result):
        if name == "tally":
            _, outcome = result
            counted = sum(1 for b in outcome.ballots if b["counted"])
            if counted != params["ballots"]:
                raise RuntimeError(f"the tally counted {counted} of {params['ballots']} ballots")

    timings = measure(
        {"tally": tally, "recover": recover},
        samples=params["samples"],
        warmup=params["warmup"],
        check=check,
    )
    tally_t, recover_t = timings["tally"], timings["recover"]
    return [
        case(
            "governance.tally_vs_recover",
            ratio=tally_t.median_ms / recover_t.median_ms,
            target=TARGET,
            detail={
                "ballots": params["ballots"],
                "tally_s": round(tally_t.median_ms / 1000, 3),
                "recover_s": round(recover_t.median_ms / 1000, 3),
                "samples": tally_t.count,
            },
        )
    ]
