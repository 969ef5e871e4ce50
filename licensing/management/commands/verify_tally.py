"""`manage.py verify_tally PROPOSAL`: recompute a proposal's published tally from its ballots
and the chain, and say whether it matches (exit status 1 when it does not)."""

from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from chain import abi
from chain.client import web3_for
from licensing.governance import GOVERNOR, verify_tally
from licensing.models import Proposal


class Command(BaseCommand):
    help = (
        "Recompute a proposal's tally from the published ballots (every signature, every "
        "voter's balanceOf at the snapshot block on chain) and compare it with the published "
        "document, its hash and what ModelGovernor recorded."
    )

    def add_arguments(self, parser):
        parser.add_argument("proposal", help="The proposal's 0x id (or its number in the admin).")
        parser.add_argument(
            "--document",
            help="A tally document (JSON file) to check instead of the one the portal holds, "
            "such as one downloaded from /api/governance/proposals/<id>/tally.",
        )

    def handle(self, *args, **options):
        key = options["proposal"]
        lookup = {"pk": int(key)} if key.isdigit() else {"proposal_id": key.lower()}
        proposal = Proposal.objects.select_related("network").filter(**lookup).first()
        if proposal is None:
            raise CommandError(f"no proposal {key}")
        if options["document"]:
            try:
                with open(options["document"], encoding="utf-8") as handle:
                    document = json.load(handle)
            except (OSError, ValueError) as exc:
                raise CommandError(f"cannot read {options['document']}: {exc}") from None
        elif proposal.tally is None:
            raise CommandError(f"proposal {proposal.proposal_id} is not tallied yet")
        else:
            document = proposal.tally
        network = proposal.network
        w3 = web3_for(settings.CHAIN_RPC_URLS.get(network.name, settings.CHAIN_RPC_URL))
        deployment = network.deployments.filter(contract_name=GOVERNOR).first()
        governor = abi.contract_at(w3, GOVERNOR, deployment.address) if deployment else None
        try:
            result = verify_tally(document=document, w3=w3, governor_contract=governor)
        except (KeyError, TypeError, ValueError) as exc:
            raise CommandError(f"the document is not a tally: {exc}") from None
        totals = result.recomputed["totals"]
        outcome = result.recomputed["outcome"]["status"]
        summary = (
            f"for {totals['for']}, against {totals['against']}, abstain {totals['abstain']}: "
            f"{outcome}"
        )
        if result.matches:
            self.stdout.write(self.style.SUCCESS(f"MATCH {proposal.proposal_id}: {summary}"))
            return
        for problem in result.problems:
            self.stdout.write(f"  - {problem}")
        self.stdout.write(self.style.ERROR(f"MISMATCH {proposal.proposal_id}: {summary}"))
        raise SystemExit(1)
