"""Withdrawing revenue from the RevenueVault: the server prepares, the customer's wallet signs.

``withdraw_prepare(*, user, account, currency)`` checks that ``account`` is one of ``user``'s
wallets and ``currency`` (a ``licensing.Currency`` pk) one of an active network whose vault
is deployed, reads ``RevenueVault.withdrawable(account, currency)`` from the node (a share
holder's earnings are settled only by the withdrawal itself, so no projection holds them), and
answers ``RevenueVault.withdraw(currency)`` as ``{from, to, data, value: 0x0, chainId}``: the
vault pays ``msg.sender``, so the wallet must send it from ``account``.

``withdraw_status(*, currency, tx_hash)`` follows the transaction with the purchase's ladder
(``licensing.services.purchase.purchase_status``: pending, mined, confirmed once the sync
indexed an event of it, reverted with the reason in words, dropped), worded for a withdrawal,
and once confirmed adds what the account can withdraw now and has withdrawn so far. Neither
writes a row (so neither is atomic).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Sum
from eth_utils import to_checksum_address
from web3 import Web3

from chain import abi
from chain.client import web3_for
from licensing.account import NODE_ERRORS, read_withdrawable, vault_of, wallets_of
from licensing.amounts import format_amount
from licensing.choices import LedgerKind
from licensing.errors import WithdrawErrorCode
from licensing.models import Currency, VaultEntry
from licensing.services.purchase import PreparedTransaction, TxProgress, TxState, purchase_status
from portal.errors import DomainError, detail
from portal.validators import validate_eth_address


@dataclass(frozen=True)
class PreparedWithdrawal:
    """The one transaction that pays ``account`` its ``amount`` of ``currency``."""

    account: str  # EIP-55
    currency: Currency
    amount: int  # what the vault says it would pay now, in smallest units
    transaction: PreparedTransaction

    def as_json(self) -> dict[str, Any]:
        return {
            "transaction": self.transaction.as_json(self.account),
            "summary": {
                "account": self.account,
                "network": self.currency.network.name,
                "currency": self.currency.symbol,
                "amount": format_amount(self.amount, self.currency),
                "label": self.transaction.label,
            },
        }


def _fail(error: WithdrawErrorCode, message: str | None = None, field_name=None) -> DomainError:
    text = message or error.message
    return DomainError(error, text, details=[detail(field_name, error.code, text)])


def _account(value: Any, wallets: list[str]) -> str:
    text = value.strip() if isinstance(value, str) else ""
    try:
        validate_eth_address(text)
    except ValidationError as exc:
        message = f"{WithdrawErrorCode.BAD_WITHDRAW_ACCOUNT.message} {' '.join(exc.messages)}"
        raise _fail(WithdrawErrorCode.BAD_WITHDRAW_ACCOUNT, message, "account") from None
    account = to_checksum_address(text)
    if account not in wallets:
        raise _fail(WithdrawErrorCode.NOT_YOUR_WALLET, field_name="account")
    return account


def currency_of(value: Any) -> Currency:
    """The currency a request names by pk, on an active network (else ``unknown_currency``)."""
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise _fail(WithdrawErrorCode.UNKNOWN_CURRENCY, field_name="currency")
    rows = Currency.objects.select_related("network").filter(network__is_active=True)
    currency = rows.filter(pk=int(value)).first()
    if currency is None:
        raise _fail(WithdrawErrorCode.UNKNOWN_CURRENCY, field_name="currency")
    return currency


def withdraw_prepare(*, user, account: Any, currency: Any) -> PreparedWithdrawal:
    """The transaction ``account`` (one of ``user``'s wallets) sends to withdraw ``currency``."""
    account = _account(account, wallets_of(user=user))
    currency = currency_of(currency)
    network = currency.network
    vault = vault_of(network)
    if vault is None:
        raise _fail(WithdrawErrorCode.NO_VAULT, field_name="currency")
    if not network.rpc_url:
        raise _fail(WithdrawErrorCode.VAULT_NODE_UNAVAILABLE)
    try:
        amount = read_withdrawable(web3_for(network.rpc_url), vault.address, account, currency)
    except NODE_ERRORS:
        raise _fail(WithdrawErrorCode.VAULT_NODE_UNAVAILABLE) from None
    if not amount:
        message = f"{account} has nothing to withdraw in {currency.symbol} on {network.name}."
        raise _fail(WithdrawErrorCode.NOTHING_TO_WITHDRAW, message, "currency")
    contract = abi.contract_at(Web3(), abi.REVENUE_VAULT, vault.address)
    transaction = PreparedTransaction(
        to=to_checksum_address(vault.address),
        data=contract.encode_abi("withdraw", args=[currency.chain_address]),
        value="0x0",
        chain_id=hex(network.chain_id),
        label=f"Withdraw {format_amount(amount, currency)}",
        step="withdraw",
    )
    return PreparedWithdrawal(
        account=account, currency=currency, amount=amount, transaction=transaction
    )


@dataclass(frozen=True)
class WithdrawProgress:
    progress: TxProgress
    withdrawable: str = ""  # once confirmed: what the account can withdraw now ("0 ETH")
    withdrawn: str = ""  # once confirmed: what it has withdrawn so far (the ledger's moves)

    def as_json(self) -> dict[str, Any]:
        return {
            **self.progress.as_json(),
            "withdrawable": self.withdrawable,
            "withdrawn": self.withdrawn,
        }


REVERTED = "Reverted: the vault refused the withdrawal; nothing was paid out."
NOT_BOUGHT = "nothing was bought"


def withdraw_status(*, user, currency: Any, tx_hash: Any, account: Any = None) -> WithdrawProgress:
    """Where a withdrawal stands (the purchase's ladder, worded for a withdrawal)."""
    currency = currency_of(currency)
    progress = purchase_status(network=currency.network, tx_hash=tx_hash, currency=currency)
    if progress.state == TxState.REVERTED:
        reason = progress.reason.replace(NOT_BOUGHT, "nothing was paid out")
        progress = dataclasses.replace(progress, message=REVERTED, reason=reason)
    if progress.state != TxState.CONFIRMED or account is None:
        return WithdrawProgress(progress)
    try:
        account = _account(account, wallets_of(user=user))
    except DomainError:
        return WithdrawProgress(progress)
    vault = vault_of(currency.network)
    if vault is None or not currency.network.rpc_url:
        return WithdrawProgress(progress)
    try:
        left = read_withdrawable(
            web3_for(currency.network.rpc_url), vault.address, account, currency
        )
    except NODE_ERRORS:
        return WithdrawProgress(progress)
    withdrawn = VaultEntry.objects.filter(
        network=currency.network,
        account=account,
        currency__iexact=currency.chain_address,
        kind=LedgerKind.WITHDRAWN,
    ).aggregate(total=Sum("amount", default=0))["total"]
    return WithdrawProgress(
        progress, format_amount(left, currency), format_amount(withdrawn, currency)
    )
