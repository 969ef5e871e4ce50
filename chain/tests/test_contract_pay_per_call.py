"""PayPerCall and the test EIP-3009 token on anvil: signed authorizations settle into the vault's
split (EOA and EIP-1271 payers), the token's own checks (replay, time window, signature), who may
settle, and a front-run authorization recovered once."""

from __future__ import annotations

import pytest
from eth_account import Account
from web3 import Web3

from chain import abi
from chain.testing import contracts
from chain.testing.eip3009 import RECEIVE, Authorization, cancel_signature
from chain.testing.market import MODEL, SHARES, ZERO, expect_revert

RECEIPT = Web3.keccak(text="receipt 1")
VALUE = 1_000_007  # a little over 1 TUSDC, so every part of the split rounds


@pytest.fixture
def payer(market):
    """An agent's wallet: a key of its own (it never sends a transaction) holding TUSDC."""
    agent = Account.create()
    market.send(market.usdc.functions.mint(agent.address, 100 * 10**6), market.acct.outsider)
    return agent


def _authorize(env, payer_address: str, value: int = VALUE, **changes) -> Authorization:
    auth = Authorization.new(
        env.usdc, payer=payer_address, to=env.pay_per_call.address, value=value, now=env.now()
    )
    return auth.but(**changes) if changes else auth


def _settle(env, auth: Authorization, signature: bytes, sender=None, receipt=RECEIPT):
    call = env.pay_per_call.functions.settle(*auth.settle_args(MODEL, signature, receipt))
    return env.send(call, sender or env.acct.meter)


def _balance(env, account: str) -> int:
    return env.usdc.functions.balanceOf(account).call()


def _withdrawable(env, account: str) -> int:
    return env.vault.functions.withdrawable(account, env.usdc.address).call()


def test_the_token_is_shaped_like_usdc(market):
    usdc = market.usdc
    assert usdc.functions.name().call() == "Test USD Coin"
    assert usdc.functions.symbol().call() == "TUSDC"
    assert usdc.functions.decimals().call() == 6
    domain = usdc.functions.eip712Domain().call()
    assert (domain[1], domain[2], domain[3], domain[4]) == (
        "Test USD Coin",
        "2",
        market.chain_id,
        usdc.address,
    )


def test_an_eoa_signed_authorization_settles_and_is_split_like_a_purchase(market, payer):
    env, a = market, market.acct
    env.send(env.token.functions.mintShares(SHARES, [a.alice, a.bob], [60, 40]), a.publisher)
    auth = _authorize(env, payer.address)
    before = _balance(env, payer.address), _balance(env, env.vault.address)

    receipt = _settle(env, auth, auth.sign(payer.key))

    # the payer paid, the vault holds it, nothing stays in the settler
    assert _balance(env, payer.address) == before[0] - VALUE
    assert _balance(env, env.vault.address) == before[1] + VALUE
    assert _balance(env, env.pay_per_call.address) == 0
    assert env.usdc.functions.authorizationState(payer.address, auth.nonce).call()
    assert env.pay_per_call.functions.isSettled(env.usdc.address, payer.address, auth.nonce).call()
    (paid,) = env.events(env.pay_per_call, receipt, "AgentPaid")
    assert paid == {
        "modelId": MODEL,
        "token": env.usdc.address,
        "payer": payer.address,
        "amount": VALUE,
        "nonce": auth.nonce,
        "receiptId": RECEIPT,
    }
    # the vault's split, as for a purchase: 2.5% fee, carol's 10%, the rest to the holders
    fee, carol = VALUE * 250 // 10_000, VALUE * 1000 // 10_000
    rest = VALUE - fee - carol
    (split,) = env.events(env.vault, receipt, "PaymentSplit")
    assert split == {
        "modelId": MODEL,
        "currency": env.usdc.address,
        "amount": VALUE,
        "fee": fee,
        "toPayees": carol,
        "toHolders": rest,
        "residualTo": ZERO,
        "toResidual": 0,
    }
    assert _withdrawable(env, a.platform) == fee
    assert _withdrawable(env, a.carol) == carol
    assert _withdrawable(env, a.alice) == rest * 60 // 100
    assert _withdrawable(env, a.bob) == rest * 40 // 100
    env.send(env.vault.functions.withdraw(env.usdc.address), a.carol)
    assert _balance(env, a.carol) == 10**12 + carol  # what the market minted, plus the share


def test_an_eip1271_contract_wallet_pays(market):
    env = market
    owner = Account.create()
    wallet = contracts.deploy_contract(env.w3, "TestWallet", owner.address, sender=env.acct.alice)
    env.send(env.usdc.functions.mint(wallet.address, 5 * 10**6), env.acct.alice)
    auth = _authorize(env, wallet.address)

    # the wallet's signature is its owner's signature of the EIP-712 digest (EIP-1271)
    receipt = _settle(env, auth, auth.sign(owner.key))

    assert _balance(env, wallet.address) == 5 * 10**6 - VALUE
    (paid,) = env.events(env.pay_per_call, receipt, "AgentPaid")
    assert paid["payer"] == wallet.address
    # anyone else's signature is not the wallet's
    other = _authorize(env, wallet.address)
    expect_revert(
        lambda: _settle(env, other, other.sign(Account.create().key)), "ERC3009InvalidSignature"
    )


def test_a_replayed_authorization_reverts(market, payer):
    env = market
    auth = _authorize(env, payer.address)
    signature = auth.sign(payer.key)
    _settle(env, auth, signature)

    expect_revert(
        lambda: _settle(env, auth, signature, receipt=Web3.keccak(text="receipt 2")),
        "ERC3009UsedAuthorization",
        authorizer=payer.address,
        nonce=auth.nonce,
    )
    assert _balance(env, env.vault.address) == VALUE


def test_expired_and_not_yet_valid_authorizations_revert(market, payer):
    env = market
    now = env.now()
    expired = _authorize(env, payer.address, valid_after=now - 600, valid_before=now - 1)
    early = _authorize(env, payer.address, valid_after=now + 600, valid_before=now + 900)

    for auth in (expired, early):
        expect_revert(
            lambda auth=auth: _settle(env, auth, auth.sign(payer.key)),
            "ERC3009InvalidAuthorizationTime",
            validAfter=auth.valid_after,
            validBefore=auth.valid_before,
        )
    assert _balance(env, payer.address) == 100 * 10**6


def test_a_wrong_signature_reverts(market, payer):
    env = market
    auth = _authorize(env, payer.address)
    signature = auth.sign(payer.key)

    # another key; another amount than signed; signed to pay someone else than the settler
    cases = [
        (auth, auth.sign(Account.create().key)),
        (auth.but(value=VALUE + 1), signature),
        (auth, auth.but(to=env.acct.outsider).sign(payer.key)),
    ]
    for changed, sig in cases:
        call = env.pay_per_call.functions.settle(*changed.settle_args(MODEL, sig, RECEIPT))
        expect_revert(lambda call=call: env.send(call, env.acct.meter), "ERC3009InvalidSignature")
    expect_revert(lambda: _settle(env, auth, b"\x01" * 65), "ERC3009InvalidSignature")
    assert not env.usdc.functions.authorizationState(payer.address, auth.nonce).call()


def test_only_the_settler_role_settles_and_recovers(market, payer):
    env = market
    auth = _authorize(env, payer.address)
    signature = auth.sign(payer.key)
    role = abi.SETTLER_ROLE

    for sender in (env.acct.outsider, env.acct.admin, env.acct.publisher):
        expect_revert(
            lambda sender=sender: _settle(env, auth, signature, sender=sender),
            "AccessControlUnauthorizedAccount",
            account=sender,
            neededRole=role,
        )
    recover = env.pay_per_call.functions.recover(
        MODEL, env.usdc.address, payer.address, auth.nonce, VALUE, RECEIPT
    )
    expect_revert(lambda: env.send(recover, env.acct.outsider), "AccessControlUnauthorizedAccount")
    assert env.pay_per_call.functions.hasRole(role, env.acct.meter).call()
    assert env.vault.functions.hasRole(abi.DEPOSITOR_ROLE, env.pay_per_call.address).call()


def test_what_is_wrong_before_the_token_is_called_has_its_own_error(market, payer):
    env = market
    auth = _authorize(env, payer.address)
    signature = auth.sign(payer.key)
    settle = env.pay_per_call.functions.settle

    def call(model=MODEL, token=None, payer_address=None, value=VALUE):
        args = list(auth.settle_args(model, signature, RECEIPT))
        args[1] = token or env.usdc.address
        args[2] = payer_address or payer.address
        args[3] = value
        return lambda: env.send(settle(*args), env.acct.meter)

    expect_revert(call(value=0), "ZeroAmount")
    expect_revert(call(model=b"\x00" * 32), "ZeroModelId")
    expect_revert(call(token=ZERO), "ZeroAddress")
    expect_revert(call(payer_address=ZERO), "ZeroAddress")


def test_a_front_run_authorization_is_recovered_once(market, payer):
    env, a = market, market.acct
    auth = _authorize(env, payer.address)
    signature = auth.sign(payer.key)
    recover = env.pay_per_call.functions.recover(
        MODEL, env.usdc.address, payer.address, auth.nonce, VALUE, RECEIPT
    )
    # nothing was used yet: nothing to recover
    expect_revert(lambda: env.send(recover, a.meter), "AuthorizationNotUsed")

    # someone submits the agent's authorization to the token first: the tokens sit here
    front_run = env.usdc.functions.transferWithAuthorization(*auth.token_args(signature))
    env.send(front_run, a.outsider)
    assert _balance(env, env.pay_per_call.address) == VALUE
    expect_revert(lambda: _settle(env, auth, signature), "ERC3009UsedAuthorization")

    # the settler recovers it: into the vault's split, AgentPaid once
    receipt = env.send(recover, a.meter)

    (paid,) = env.events(env.pay_per_call, receipt, "AgentPaid")
    assert (paid["payer"], paid["amount"], paid["nonce"]) == (payer.address, VALUE, auth.nonce)
    assert len(env.events(env.vault, receipt, "PaymentSplit")) == 1
    assert _balance(env, env.pay_per_call.address) == 0
    assert _balance(env, env.vault.address) == VALUE
    # ... and never twice
    expect_revert(
        lambda: env.send(recover, a.meter),
        "AlreadySettled",
        token=env.usdc.address,
        payer=payer.address,
        nonce=auth.nonce,
    )


def test_a_settled_payment_cannot_be_recovered_again(market, payer):
    env = market
    auth = _authorize(env, payer.address)
    _settle(env, auth, auth.sign(payer.key))
    # even with someone's tokens sitting in the settler, a settled nonce pays out nothing more
    env.send(env.usdc.functions.transfer(env.pay_per_call.address, VALUE), env.acct.alice)

    recover = env.pay_per_call.functions.recover(
        MODEL, env.usdc.address, payer.address, auth.nonce, VALUE, RECEIPT
    )
    expect_revert(lambda: env.send(recover, env.acct.meter), "AlreadySettled")


def test_a_cancelled_authorization_recovers_nothing_out_of_nothing(market, payer):
    env = market
    auth = _authorize(env, payer.address)
    cancel = cancel_signature(env.usdc, authorizer=payer.address, nonce=auth.nonce, key=payer.key)
    # the bytes-signature overload (an EIP-1271 wallet could cancel too)
    env.send(
        env.usdc.functions.cancelAuthorization(payer.address, auth.nonce, cancel),
        env.acct.outsider,
    )
    assert env.usdc.functions.authorizationState(payer.address, auth.nonce).call()

    recover = env.pay_per_call.functions.recover(
        MODEL, env.usdc.address, payer.address, auth.nonce, VALUE, RECEIPT
    )
    expect_revert(
        lambda: env.send(recover, env.acct.meter),
        "UnaccountedBalanceTooLow",
        value=VALUE,
        balance=0,
    )


def test_receive_with_authorization_is_for_the_recipient_only(market, payer):
    env, a = market, market.acct
    auth = Authorization.new(env.usdc, payer=payer.address, to=a.alice, value=10, now=env.now())
    receive = env.usdc.functions.receiveWithAuthorization
    # a TransferWithAuthorization signature is not a ReceiveWithAuthorization one
    transfer_signed = auth.token_args(auth.sign(payer.key))
    expect_revert(lambda: env.send(receive(*transfer_signed), a.alice), "ERC3009InvalidSignature")

    args = auth.token_args(auth.sign(payer.key, RECEIVE))
    expect_revert(lambda: env.send(receive(*args), a.bob), "ERC20InvalidReceiver", receiver=a.alice)
    env.send(receive(*args), a.alice)
    assert _balance(env, a.alice) == 10**12 + 10


def test_the_v_r_s_form_still_takes_an_eoa_signature(market, payer):
    env, a = market, market.acct
    auth = Authorization.new(env.usdc, payer=payer.address, to=a.dave, value=10, now=env.now())
    signature = auth.sign(payer.key)
    r, s, v = signature[:32], signature[32:64], signature[64]
    call = env.usdc.functions.transferWithAuthorization(*auth.token_args(signature)[:-1], v, r, s)

    env.send(call, a.outsider)

    assert _balance(env, a.dave) == 10**12 + 10
