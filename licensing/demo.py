"""The demo's chain data, on the local anvil only (``manage.py demo``, after the models).

On chain id 31337 with the Makefile's development key as the operator, and only adding what is
missing (run again, it sends and buys nothing):

1. the suite deployed (``deploy_contracts``, which sends nothing when it is there; on the local
   anvil it deploys the test-only EIP-3009 token ``TestUSD3009`` too), and the currencies: the
   native ETH, "Demo USD" (the test-only ``TestToken`` ERC-20, which the deployment plan leaves
   out, deployed here through the outbox) and "TUSDC" (that EIP-3009 token, flagged so agents
   can pay per call with it), with 10,000 TUSDC minted through the outbox to each of anvil's
   development accounts #1 to #9 that holds less than 1,000 (``manage.py agent_demo`` pays
   from them);
2. per organization, standard license terms (through the terms service, hashed);
3. per listed demo model never set up on this network: a perpetual license tier, a 30-day
   access pass (in Demo USD), a credits pack and ownership shares with a cap table, a payee, and
   the latest version's author as a contributor;
4. publishing (``model_publish``) of every demo model never published on this network, then the
   outbox sender and the sync run here until every step is confirmed (or a timeout);
5. a few purchases from anvil's development accounts #3 to #6, skipped for a buyer who holds
   that offer already, and a sync, so the dashboards and license lists show real data;
6. governance for every demo model (a 2-day window, each license's price bounded to half and
   double, the bounds queued to ``ModelGovernor``) and, once, an open proposal to lower the
   wine model's license price, for the holders to vote on in the customer portal.

Anvil's development accounts are public (anvil prints their keys at start; every anvil node has
them; the addresses below are public keys' addresses, never secrets): never send real funds to
them. Accounts #1 and #2 are the demo organizations' treasuries
(``portal.demo``), so the buyers are #3 to #6.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from eth_account import Account
from web3 import Web3

from chain import abi
from chain.choices import TX_OPEN, OfferKind, TxStatus
from chain.client import web3_for
from chain.deploy import deploy_contracts
from chain.models import Network, OutboundTransaction
from chain.operator import operator_account
from chain.sender import outbox_process
from chain.services import enqueue_call, enqueue_deploy, network_ensure
from chain.sync import sync_network
from licensing.choices import ContributorRole, ProposalAction, PublishStepStatus, UsageUnit
from licensing.models import Currency, LicenseTerms, Offer, Payee, PublishStep, ShareAllocation
from licensing.services import tokenomics
from licensing.services.publishing import model_publish, step_views
from licensing.services.terms import terms_create
from models_hub.models import AIModel
from portal.errors import DomainError

ANVIL_CHAIN_ID = 31337
# Anvil's published development keys (public test keys, printed by anvil: never real funds).
DEV_KEYS = {
    0: "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",  # the operator
    3: "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    4: "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    5: "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    6: "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
}
INVESTOR = "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955"  # anvil #7: holds 30% of each model
DATA_PARTNER = "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f"  # anvil #8: a payee
AUTHOR = "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"  # anvil #9: each model's author
# Anvil's published development accounts #1 to #9 (addresses of public test keys, from the
# mnemonic every anvil prints; never secrets): the demo mints them TUSDC to pay per call with.
DEV_ACCOUNTS = {
    1: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    2: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    3: "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
    4: "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
    5: "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
    6: "0x976EA74026E726554dB657fA54763abd0C3a0aa9",
    7: INVESTOR,
    8: DATA_PARTNER,
    9: AUTHOR,
}
DEMO_USD = ("Demo USD", "DUSD", 6)
# The test EIP-3009 token as a currency: (symbol, decimals, EIP-712 domain name and version).
TUSDC = ("TUSDC", 6, "Test USD Coin", "2")
TUSDC_MINT, TUSDC_FLOOR = 10_000 * 10**6, 1_000 * 10**6  # mint 10,000 to those under 1,000
ETH, USD = 10**18, 10**6
DAY = 86_400
TERMS_NAME = "Standard commercial license"
LICENSE, PASS, CREDITS, SHARES = "Commercial license", "30-day API pass", "10,000 rows", "Shares"
# (buyer's account number, organization slug, model slug, offer tier, units)
PURCHASES = [
    (3, "acme", "breast-cancer", LICENSE, 1),
    (3, "globex", "iris", PASS, 1),
    (4, "acme", "wine", PASS, 2),
    (4, "acme", "breast-cancer", CREDITS, 3),
    (5, "globex", "iris", LICENSE, 1),
    (5, "acme", "diabetes", CREDITS, 1),
    (6, "acme", "wine", LICENSE, 1),
    (6, "acme", "breast-cancer", PASS, 1),
]


class DemoChainError(RuntimeError):
    """The demo's chain part could not finish (the message says why)."""


@dataclass
class DemoChainReport:
    skipped: str = ""  # why nothing was done (no node, not the local anvil)
    set_up: list[str] = field(default_factory=list)  # models whose offers were created
    steps: int = 0  # publishing steps queued
    purchases: int = 0
    minted: int = 0  # development accounts given TUSDC
    proposals: int = 0  # governance proposals opened


@dataclass
class DemoChain:
    """One run of the chain part: the network, its node, and where progress is written."""

    network: Network
    w3: Web3
    log: Callable[[str], object]
    timeout: float
    report: DemoChainReport = field(default_factory=DemoChainReport)
    contracts: dict = field(default_factory=dict)

    def contract(self, name: str, address: str | None = None):
        if name not in self.contracts:
            if address is None:
                address = self.network.deployments.get(contract_name=name).address
            self.contracts[name] = abi.contract_at(self.w3, name, address)
        return self.contracts[name]


def _local_anvil(url: str) -> tuple[Web3 | None, str]:
    """The node at ``url`` if it is the local anvil and the operator is its dev key #0."""
    w3 = web3_for(url, timeout=2)
    try:
        chain_id = w3.eth.chain_id
    except Exception as exc:  # any connection error: the node is not there
        return None, f"no node answers at {url} ({type(exc).__name__})"
    if chain_id != ANVIL_CHAIN_ID:
        return (
            None,
            f"the node at {url} is chain {chain_id}, not the local anvil ({ANVIL_CHAIN_ID})",
        )
    if not settings.CHAIN_OPERATOR_KEY:
        return None, "no operator key: the Makefile sets anvil's development key #0"
    if operator_account().address != Account.from_key(DEV_KEYS[0]).address:
        return None, "the operator key is not anvil's development key #0 (the Makefile's)"
    return web3_for(url), ""


def load_demo_chain(
    *, models: list[AIModel], managers: dict, log: Callable[[str], object], timeout: float = 120
) -> DemoChainReport:
    """The chain part of the demo for ``models`` (see the module doc); ``managers`` maps an
    organization id to the user who publishes for it."""
    url = settings.CHAIN_RPC_URLS.get(settings.CHAIN_NETWORK)
    w3, why_not = _local_anvil(url) if url else (None, "CHAIN_RPC_URL is not set")
    if w3 is None:
        return DemoChainReport(skipped=why_not)
    network = network_ensure(name=settings.CHAIN_NETWORK)
    deploy_contracts(network=network, timeout=timeout, log=log)
    run = DemoChain(network=network, w3=w3, log=log, timeout=timeout)
    currencies = _currencies(run)
    _mint_tusdc(run, currencies["TUSDC"])
    for model in (m for m in models if m.listed):
        _set_up(run, model, currencies)
        _publish(run, model, managers.get(model.organization_id))
    _until_confirmed(run, models)
    _purchases(run, models, currencies)
    sync_network(network=network)
    _governance(run, models, managers)
    return run.report


# --- currencies and terms ---


def _currency(
    network: Network, symbol: str, address: str = "", decimals: int = 18, **fields
) -> Currency:
    found = Currency.objects.filter(network=network, symbol=symbol).first()
    if found is not None:
        return found
    currency = Currency(
        network=network, symbol=symbol, address=address, decimals=decimals, **fields
    )
    currency.full_clean()
    currency.save()
    return currency


def _currencies(run: DemoChain) -> dict[str, Currency]:
    eth = _currency(run.network, "ETH")
    usd = Currency.objects.filter(network=run.network, symbol=DEMO_USD[1]).first()
    if usd is not None and not run.w3.eth.get_code(Web3.to_checksum_address(usd.address)):
        raise DemoChainError(
            f"{DEMO_USD[1]} has no code at {usd.address}: the chain was reset without the "
            "database. Delete var/ to start the demo over."
        )
    if usd is None:
        usd = _currency(run.network, DEMO_USD[1], _deploy_test_token(run), DEMO_USD[2])
        run.log(f"  deployed {DEMO_USD[0]} ({DEMO_USD[1]}) at {usd.address}")
    return {"ETH": eth, "USD": usd, "TUSDC": _tusdc(run)}


def _tusdc(run: DemoChain) -> Currency:
    """The test EIP-3009 token ``deploy_contracts`` deployed, as a currency agents pay with."""
    symbol, decimals, name, version = TUSDC
    address = run.network.deployments.get(contract_name=abi.TEST_USD3009).address
    found = Currency.objects.filter(network=run.network, symbol=symbol).first()
    if found is not None and found.address.lower() != address.lower():
        raise DemoChainError(
            f"{symbol} is at {found.address} in the database but deployed at {address}: the "
            "chain was reset without the database. Delete var/ to start the demo over."
        )
    if found is None:
        run.log(f"  {symbol} (EIP-3009, test only) at {address}")
    return _currency(
        run.network,
        symbol,
        address,
        decimals,
        eip3009=True,
        eip712_name=name,
        eip712_version=version,
    )


def _mint_tusdc(run: DemoChain, tusdc: Currency) -> None:
    """Mint TUSDC through the outbox to each development account #1 to #9 holding less than
    ``TUSDC_FLOOR`` (the token lets anyone mint: it is a test token)."""
    token = run.contract(abi.TEST_USD3009, tusdc.address)
    rows = []
    for number, account in DEV_ACCOUNTS.items():
        balance = token.functions.balanceOf(account).call()
        if balance >= TUSDC_FLOOR:
            continue
        key = f"demo:tusdc-mint:{run.network.chain_id}:{tusdc.address}:{account}:{balance}"
        row = enqueue_call(
            network=run.network,
            contract_name=abi.TEST_USD3009,
            function="mint",
            args=[account, TUSDC_MINT],
            idempotency_key=key,
        )
        rows.append(row.pk)
        run.log(f"  minting {TUSDC_MINT // 10**6:,} TUSDC to development account #{number}")
    if rows:
        _send_all(run, rows)
        failed = OutboundTransaction.objects.filter(pk__in=rows).exclude(status=TxStatus.CONFIRMED)
        if failed.exists():
            raise DemoChainError(f"minting TUSDC failed: {failed.first().last_error}")
    run.report.minted += len(rows)


def _deploy_test_token(run: DemoChain) -> str:
    row = enqueue_deploy(
        network=run.network,
        contract_name="TestToken",
        args=list(DEMO_USD),
        idempotency_key=f"demo:test-token:{run.network.name}:{run.network.chain_id}",
    )
    _send_all(run, [row.pk])
    row.refresh_from_db()
    if row.status != TxStatus.CONFIRMED:
        raise DemoChainError(
            f"deploying {DEMO_USD[0]} failed: {row.revert_reason or row.last_error}"
        )
    return Web3.to_checksum_address(row.contract_address)


def _terms(organization) -> LicenseTerms:
    found = LicenseTerms.objects.filter(organization=organization, name=TERMS_NAME)
    latest = found.order_by("-version").first()
    if latest is not None:
        return latest
    return terms_create(
        organization=organization,
        name=TERMS_NAME,
        commercial_use=True,
        commercial_attribution=True,
        seats=3,
        legal_text=f"# {TERMS_NAME}\n\nUse the model in your products, crediting "
        f"{organization.name}. Demo terms: not legal advice.",
    )


# --- one model's tokenomics ---


def _set_up(run: DemoChain, model: AIModel, currencies: dict[str, Currency]) -> None:
    """The demo's offers, split and cap table of one model never set up on this network."""
    if Offer.objects.filter(model=model, network=run.network).exists():
        return
    _offers(run, model, currencies)
    _split(model)
    if not ShareAllocation.objects.filter(model=model).exists():
        treasury = model.organization.treasury_address or operator_account().address
        for holder, label, amount in ((treasury, "Treasury", 7_000), (INVESTOR, "Investor", 3_000)):
            tokenomics.share_allocation_create(
                model=model, holder=holder, label=label, amount=amount
            )
    name = f"{model.organization.slug}/{model.slug}"
    run.report.set_up.append(name)
    run.log(f"  {name}: four offers, a payee, a contributor and a cap table on {run.network.name}")


def _publish(run: DemoChain, model: AIModel, by) -> None:
    """Queue the publication of a model never published on this network."""
    if PublishStep.objects.filter(model=model, network=run.network).exists():
        return
    steps = model_publish(model=model, network=run.network, by=by)
    run.report.steps += len(steps)
    run.log(f"  {model.organization.slug}/{model.slug}: {len(steps)} publishing step(s) queued")


def _offers(run: DemoChain, model: AIModel, currencies: dict[str, Currency]) -> None:
    """A perpetual license tier, a 30-day pass, a credits pack and ownership shares."""
    eth, usd = currencies["ETH"], currencies["USD"]
    paid = {"model": model, "network": run.network, "terms": _terms(model.organization)}
    tokenomics.offer_create(
        kind=OfferKind.LICENSE, tier_name=LICENSE, price=5 * ETH // 100, currency=eth, **paid
    )
    tokenomics.offer_create(
        kind=OfferKind.ACCESS_PASS,
        tier_name=PASS,
        price=25 * USD,
        currency=usd,
        duration=30 * DAY,
        **paid,
    )
    tokenomics.offer_create(
        kind=OfferKind.CREDITS,
        tier_name=CREDITS,
        price=ETH // 100,
        currency=eth,
        credits_per_unit=10_000,
        usage_unit=UsageUnit.ROW,
        **paid,
    )
    tokenomics.offer_create(
        model=model, network=run.network, kind=OfferKind.SHARES, tier_name=SHARES, transferable=True
    )


def _split(model: AIModel) -> None:
    """5% to a data partner, 5% to the contributors (the latest version's author)."""
    row = tokenomics.tokenomics_for(model=model)
    row.contributors_bps = 500
    row.metadata_uri = f"{settings.SITE_URL}/api/models/{model.organization.slug}/{model.slug}"
    tokenomics.tokenomics_save(tokenomics=row)
    if not Payee.objects.filter(model=model, address=DATA_PARTNER).exists():
        tokenomics.payee_create(model=model, address=DATA_PARTNER, label="Data partner", bps=500)
    version = tokenomics.contributors_version(model)
    if version is not None and not version.contributors.filter(address=AUTHOR).exists():
        tokenomics.contributor_create(
            version=version,
            address=AUTHOR,
            name="Model author",
            role=ContributorRole.AUTHOR,
            share_bps=10_000,
        )


# --- sending and syncing here (the worker may not run yet) ---


def _send_all(run: DemoChain, row_ids: list[int]) -> None:
    """Run the outbox sender until the rows ``row_ids`` are finished, or the timeout."""
    deadline = time.monotonic() + run.timeout
    while OutboundTransaction.objects.filter(pk__in=row_ids, status__in=TX_OPEN).exists():
        if time.monotonic() > deadline:
            raise DemoChainError(f"transactions still open after {run.timeout:.0f}s: {row_ids}")
        outbox_process(network=run.network)
        time.sleep(0.2)


def _until_confirmed(run: DemoChain, models: list[AIModel]) -> None:
    """Send and sync until every publishing step of the demo models is confirmed by the sync."""
    steps = PublishStep.objects.filter(model__in=models, network=run.network)
    deadline = time.monotonic() + run.timeout
    while True:
        waiting = [v for v in step_views(steps) if v.status != PublishStepStatus.CONFIRMED]
        failed = [v for v in waiting if v.status == PublishStepStatus.FAILED]
        if failed:
            reasons = "; ".join(f"{v.step}: {v.reason}" for v in failed[:5])
            raise DemoChainError(f"{len(failed)} publishing step(s) failed: {reasons}")
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise DemoChainError(
                f"{len(waiting)} publishing step(s) not confirmed after {run.timeout:.0f}s"
            )
        outbox_process(network=run.network)
        sync_network(network=run.network)


# --- governance by the share holders ---

VOTING_PERIOD = 2 * DAY
PROPOSAL = ("wine", "Lower the commercial license to 0.04 ETH", 4 * ETH // 100)


def _governance(run: DemoChain, models: list[AIModel], managers: dict) -> None:
    """Governance on for every demo model with shares (a 2-day window, 20% quorum), each
    license's price bounded to half and double of its price (queued to the governor), and,
    once, an open proposal on the wine model's license price that the holders (the treasury,
    anvil #1 or #2, and the investor, anvil #7) can vote on in the customer portal."""
    from licensing import governance
    from licensing.models import GovernanceSettings, PriceBound, Proposal

    queued = []
    for model in (m for m in models if m.listed):
        if not GovernanceSettings.objects.filter(model=model).exists():
            governance.governance_settings_save(
                rules=GovernanceSettings(model=model, voting_period_seconds=VOTING_PERIOD)
            )
        for offer in Offer.objects.filter(
            model=model, network=run.network, kind=OfferKind.LICENSE
        ).exclude(price_bound__isnull=False):
            price = int(offer.price)
            governance.price_bound_save(
                bound=PriceBound(offer=offer, min_price=price // 2, max_price=price * 2)
            )
        queued += [row.pk for row in governance.bounds_publish(model=model, network=run.network)]
    _send_all(run, queued)
    slug, title, price = PROPOSAL
    model = next((m for m in models if m.slug == slug and m.listed), None)
    if model is None or Proposal.objects.filter(model=model, title=title).exists():
        return
    offer = Offer.objects.filter(model=model, network=run.network, kind=OfferKind.LICENSE).first()
    try:
        governance.proposal_create(
            model=model,
            network=run.network,
            title=title,
            body="Sales of the commercial license are slow; a lower price should sell more.",
            action=ProposalAction.SET_PRICE,
            params={"offer": offer.pk, "price": price},
            created_by=managers.get(model.organization_id),
        )
    except DomainError as exc:  # the shares are not final in the index yet: next start
        run.log(f"  no demo proposal yet: {exc.message}")
        return
    run.report.proposals += 1
    run.log(f"  opened the proposal “{title}” (vote at /market/acme/{slug}/governance/)")


# --- purchases from anvil's development accounts ---


def _purchases(run: DemoChain, models: list[AIModel], currencies: dict[str, Currency]) -> None:
    by_slug = {(m.organization.slug, m.slug): m for m in models}
    token = run.contract(abi.LICENSE_TOKEN)
    for number, org_slug, model_slug, tier, units in PURCHASES:
        model = by_slug.get((org_slug, model_slug))
        offer = Offer.objects.filter(model=model, network=run.network, tier_name=tier).first()
        if offer is None:
            continue  # a model the demo did not set up (or staff renamed the tier)
        buyer = Account.from_key(DEV_KEYS[number])
        if token.functions.balanceOf(buyer.address, int(offer.token_id)).call():
            continue  # bought on an earlier run
        _buy(run, buyer, offer, units, currencies["USD"])
        run.report.purchases += 1


def _buy(run: DemoChain, buyer, offer: Offer, units: int, usd: Currency) -> None:
    token = run.contract(abi.LICENSE_TOKEN)
    config = tokenomics.onchain_offer_config(offer)
    price, total = config["price"], config["price"] * units * (offer.credits_per_unit or 1)
    amount = units * (offer.credits_per_unit or 1)
    value = 0
    if offer.currency_id == usd.pk:
        dollars = run.contract("TestToken", usd.address)
        if dollars.functions.balanceOf(buyer.address).call() < total:
            _transact(run, buyer, dollars.functions.mint(buyer.address, 1_000 * USD))
        if dollars.functions.allowance(buyer.address, token.address).call() < total:
            _transact(run, buyer, dollars.functions.approve(token.address, 2**256 - 1))
    else:
        value = total
    _transact(run, buyer, token.functions.purchase(int(offer.token_id), amount, price), value)
    run.log(f"  {buyer.address[:10]}… bought {units} of {offer}")


def _transact(run: DemoChain, account, call, value: int = 0) -> None:
    """Sign ``call`` with a development account's public key, send it, wait for it."""
    w3 = run.w3
    tx = call.build_transaction(
        {
            "from": account.address,
            "value": value,
            "nonce": w3.eth.get_transaction_count(account.address, "pending"),
            "chainId": run.network.chain_id,
        }
    )
    signed = account.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=run.timeout)
    if receipt["status"] != 1:
        raise DemoChainError(f"a demo purchase reverted: {tx_hash.to_0x_hex()}")
