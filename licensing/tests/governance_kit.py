"""The governance test kit: the shop's shares moved and confirmed, proposals opened by its
manager, and ballots signed the way a wallet signs them (anvil's ``eth_signTypedData_v4`` for
its own accounts). The ``governed`` fixture (``licensing/tests/conftest.py``) sets it up."""

from __future__ import annotations

import json
from datetime import timedelta

from django.utils import timezone

from chain.testing.market import LICENSE_NATIVE, SHARES
from licensing import governance
from licensing.models import Proposal

FOR, AGAINST, ABSTAIN = 1, 0, 2
PRICE = 10**16  # the shop's monthly license, in wei


def confirm(shop, blocks: int = 4) -> None:
    """Mine past the confirmation depth and sync, so what happened is final in the index."""
    shop.env.w3.provider.make_request("anvil_mine", [hex(blocks)])
    shop.sync()


def move(shop, sender: str, to: str, amount: int) -> None:
    token = shop.env.token
    shop.env.send(token.functions.safeTransferFrom(sender, to, SHARES, amount, b""), sender)


def propose(shop, **fields) -> Proposal:
    offer = shop.offers[LICENSE_NATIVE]
    return governance.proposal_create(
        model=offer.model,
        network=shop.network,
        title=fields.pop("title", "Double the monthly price"),
        created_by=shop.manager,
        **fields,
    )


def sign(shop, voter: str, proposal: Proposal, support: int, issued_at: int | None = None):
    """What the voter's wallet answers to eth_signTypedData_v4 (anvil signs for its accounts)."""
    issued_at = issued_at or int(timezone.now().timestamp())
    typed = governance.ballot_typed_data(proposal, support=support, issued_at=issued_at)
    answer = shop.env.w3.provider.make_request("eth_signTypedData_v4", [voter, json.dumps(typed)])
    return {
        "voter": voter,
        "support": support,
        "issued_at": issued_at,
        "signature": answer["result"],
    }


def vote(shop, voter, proposal, support, issued_at=None):
    return governance.ballot_cast(
        proposal=proposal, **sign(shop, voter, proposal, support, issued_at)
    )


def close(proposal: Proposal) -> Proposal:
    """The window ends now (the clock moved on): the beat tallies it."""
    past = timezone.now()
    Proposal.objects.filter(pk=proposal.pk).update(
        opens_at=past - timedelta(hours=1), closes_at=past
    )
    assert governance.proposals_tally_due() == 1
    proposal.refresh_from_db()
    return proposal
