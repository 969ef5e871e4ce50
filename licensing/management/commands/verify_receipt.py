"""Check a usage receipt: its leaf, its proof against its period's root, and that root on chain."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from chain.abi import contract_at
from chain.client import web3_for
from chain.models import Deployment, Network
from licensing import selectors
from licensing.merkle import MerkleError, StandardMerkleTree, leaf_hash
from licensing.models import UsageReceipt
from licensing.services.settlement import LEAF, LEAF_NAMES, TOKEN_CONTRACT


def burns_with_root(*, network: Network, root: str) -> list[dict]:
    """The CreditsBurned logs of the network's LicenseToken whose receiptRoot is ``root``,
    read from the node (not from our index)."""
    deployment = Deployment.objects.filter(network=network, contract_name=TOKEN_CONTRACT).first()
    if deployment is None:
        raise CommandError(f"{TOKEN_CONTRACT} is not deployed on {network.name}")
    w3 = web3_for(network.rpc_url)
    token = contract_at(w3, TOKEN_CONTRACT, deployment.address)
    logs = token.events.CreditsBurned().get_logs(from_block=deployment.deploy_block)
    return [
        dict(log["args"]) | {"tx": log["transactionHash"].hex()}
        for log in logs
        if "0x" + bytes(log["args"]["receiptRoot"]).hex() == root.lower()
    ]


def _document(target: str) -> dict:
    path = Path(target)
    if path.is_file():
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise CommandError(f"{target}: not a JSON receipt: {exc}") from None
    receipt = UsageReceipt.objects.filter(receipt_id=target.lower()).first()
    if receipt is None:
        raise CommandError(f"no receipt {target!r} (and no such file)")
    return selectors.receipt_document(receipt)


class Command(BaseCommand):
    help = (
        "Verify a usage receipt (its id, or a JSON file of what GET /api/licensing/receipts/"
        "{id} answered): recompute its leaf, check its Merkle proof against the period's root, "
        "and find a CreditsBurned log with that root on chain. Exit 1 when any check fails."
    )

    def add_arguments(self, parser):
        parser.add_argument("receipt", help="A receipt id (0x + 64 hex) or a path to its JSON.")

    def handle(self, *args, receipt, **options):
        doc = _document(receipt)
        failures = []
        try:
            if list(doc.get("leaf_encoding", LEAF)) != list(LEAF):
                raise MerkleError(f"unknown leaf encoding {doc['leaf_encoding']!r}")
            values = [doc["leaf"][name] for name in LEAF_NAMES]
            leaf = "0x" + leaf_hash(LEAF, values).hex()
        except (KeyError, TypeError, MerkleError) as exc:
            raise CommandError(f"FAIL: the receipt's leaf cannot be read: {exc}") from None
        self.stdout.write(f"receipt {doc.get('receipt_id')}: leaf {leaf}")
        root = doc.get("root")
        if not root:
            raise CommandError("FAIL: the receipt is not settled yet (no period, no root)")
        try:
            proved = StandardMerkleTree.verify(root, LEAF, values, doc.get("proof") or [])
        except MerkleError as exc:
            proved, root_error = False, exc
        else:
            root_error = None
        if proved:
            self.stdout.write(f"proof: ok, leads to root {root}")
        else:
            failures.append(f"the proof does not lead to root {root} {root_error or ''}".strip())
        network = Network.objects.filter(name=doc.get("network")).first()
        if network is None:
            failures.append(f"no network {doc.get('network')!r} to read the chain of")
        else:
            burns = burns_with_root(network=network, root=root)
            for burn in burns:
                self.stdout.write(
                    f"on chain: CreditsBurned({burn['holder']}, {burn['id']}, {burn['amount']}) "
                    f"with this root in {burn['tx']}"
                )
            if not burns:
                failures.append(
                    f"no CreditsBurned with root {root} on {network.name} (not sent yet, or a "
                    "period of license and pass uses only, which burns nothing)"
                )
        if failures:
            for failure in failures:
                self.stderr.write(f"FAIL: {failure}")
            raise CommandError("the receipt does not verify")
        self.stdout.write(self.style.SUCCESS("VERIFIED: the receipt is in a root burned on chain"))
