"""An AI agent's side of x402, as ``manage.py agent_demo`` runs it: the ``x402`` package's
``requests`` client with its wallet's key, paying a 402 only in the one token it allows, up to
a cap per call and a budget for the session. Nothing here talks to the portal's database: an
agent knows the portal's URL, its own key, and what it is willing to pay with."""

from __future__ import annotations

from dataclasses import dataclass, field

import requests


@dataclass
class Spending:
    """What the session paid: one entry per settled call (amount, transaction, payer)."""

    budget: int
    payments: list[dict] = field(default_factory=list)
    pending: int = 0  # the amount of the payment being made

    @property
    def spent(self) -> int:
        return sum(payment["amount"] for payment in self.payments)


def agent_session(
    *, key: str, network: str, asset: str, max_per_call: int, budget: int
) -> tuple[requests.Session, Spending]:
    """A ``requests`` session that pays 402s from the wallet of ``key``: in ``asset`` on
    ``network`` (``eip155:<chain id>``) only, at most ``max_per_call`` atomic units a call and
    ``budget`` in all; returns it with the ``Spending`` it keeps."""
    from eth_account import Account
    from x402 import x402ClientSync
    from x402.http.clients.requests import wrapRequestsWithPayment
    from x402.mechanisms.evm.exact.register import register_exact_evm_client
    from x402.mechanisms.evm.signers import EthAccountSigner

    spending = Spending(budget=budget)
    client = register_exact_evm_client(x402ClientSync(), EthAccountSigner(Account.from_key(key)))
    allowed = {"network": network, "asset": asset, "max_amount_per_payment": str(max_per_call)}
    client.set_spend_controls({"allowed_assets": [allowed]})

    def within_budget(_version, requirements):
        return [r for r in requirements if spending.spent + int(r.get_amount()) <= budget]

    def note_amount(context):
        spending.pending = int(context.selected_requirements.get_amount())

    client.register_policy(within_budget)
    client.on_after_payment_creation(note_amount)
    return wrapRequestsWithPayment(requests.Session(), client), spending


def settled(response: requests.Response, spending: Spending) -> dict | None:
    """The settlement a paid answer carries (``PAYMENT-RESPONSE``), recorded in ``spending``;
    None when the answer carries none (nothing was paid)."""
    from x402.http.utils import decode_payment_response_header

    header = response.headers.get("PAYMENT-RESPONSE")
    if not header or response.status_code != 200:
        return None
    answer = decode_payment_response_header(header)
    payment = {
        "amount": spending.pending,
        "transaction": answer.transaction,
        "payer": answer.payer,
        "network": str(answer.network),
    }
    spending.payments.append(payment)
    spending.pending = 0
    return payment
