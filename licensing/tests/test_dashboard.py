"""The revenue dashboard from real projected data: purchases on anvil, the sync, and the
organization's configured models and offers matching the chain's ids."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from eth_account import Account
from web3 import Web3

from chain import abi
from chain.choices import OfferKind, TxStatus
from chain.models import IndexedEvent, OutboundTransaction
from chain.sync import sync_network
from chain.testing.eip3009 import Authorization
from chain.testing.market import (
    CREDITS,
    DAY,
    LICENSE_NATIVE,
    MODEL,
    OTHER_MODEL,
    PASS_TOKEN,
    PERPETUAL,
)
from chain.testing.rpcproxy import LimitingRpcProxy
from licensing import dashboard
from licensing.choices import PublishStepKind
from licensing.models import (
    CreditEntry,
    CreditTotal,
    Currency,
    CustomerTotal,
    LicenseTerms,
    ModelTokenomics,
    Offer,
    Payment,
    PublishStep,
    RevenueDay,
    Sale,
)
from models_hub.services import model_create
from portal.choices import Role

PRICE = 10**16  # the standard 30-day license, in wei
OTHER_OFFER = 11  # an offer of OTHER_MODEL, owned by the other organization
URL = "/admin/licensing/dashboard/"


def _hex(model_id: bytes) -> str:
    return "0x" + bytes(model_id).hex()


def _buy(env, buyer, offer=LICENSE_NATIVE, amount=1, price=PRICE, value=None):
    value = price * amount if value is None else value
    return env.send(env.token.functions.purchase(offer, amount, price), buyer, value=value)


def _configure(organization, network, *, name: str, model_id: bytes, offers: dict, usd=None):
    """The organization's model, its tokenomics and offers, with the chain's ids."""
    model = model_create(organization=organization, name=name, task="classification")
    ModelTokenomics.objects.create(model=model, chain_model_id=_hex(model_id))
    terms = LicenseTerms.objects.create(organization=organization, name=f"{name} terms")
    eth = Currency.objects.get_or_create(network=network, address="", symbol="ETH")[0]
    currencies = {None: eth}
    if usd is not None:
        currencies[usd] = Currency.objects.get_or_create(
            network=network, address=usd, symbol="TUSD", decimals=6
        )[0]
    for token_id, (kind, tier, currency) in offers.items():
        Offer.objects.create(
            model=model,
            network=network,
            kind=kind,
            tier_name=tier,
            token_id=token_id,
            price=1,
            currency=currencies[currency],
            duration=30 * DAY if kind == OfferKind.ACCESS_PASS else 0,
            credits_per_unit=1 if kind == OfferKind.CREDITS else 0,
            usage_unit="call" if kind == OfferKind.CREDITS else "",
            terms=terms,
        )
    return model


@pytest.fixture
def shop(network, market, org_a, org_b):
    """Org A sells the market's model (its four paid offers); org B sells another model."""
    a = market.acct
    offers = {
        LICENSE_NATIVE: (OfferKind.LICENSE, "Monthly", None),
        PASS_TOKEN: (OfferKind.ACCESS_PASS, "Weekly pass", market.usd.address),
        PERPETUAL: (OfferKind.LICENSE, "Perpetual", None),
        CREDITS: (OfferKind.CREDITS, "Credits", None),
    }
    model = _configure(
        org_a, network, name="Churn", model_id=MODEL, offers=offers, usd=market.usd.address
    )
    other = {OTHER_OFFER: (OfferKind.LICENSE, "Beta-LEAK tier", None)}
    _configure(org_b, network, name="Beta-LEAK fraud", model_id=OTHER_MODEL, offers=other)
    market.send(
        market.registry.functions.registerModel(OTHER_MODEL, a.publisher, "ipfs://other"),
        a.publisher,
    )
    config = market.offer(OTHER_MODEL, OfferKind.LICENSE, 7 * PRICE)
    market.send(market.token.functions.configureOffer(OTHER_OFFER, config), a.publisher)
    return model


def _purchases(market) -> None:
    """Alice renews a license, bob buys it for good, carol a pass in dollars, dave credits;
    a customer of the other organization pays a lot."""
    a = market.acct
    _buy(market, a.alice)
    _buy(market, a.alice)
    _buy(market, a.bob, offer=PERPETUAL, price=3 * PRICE)
    _buy(market, a.carol, offer=PASS_TOKEN, price=5 * 10**6, value=0)
    _buy(market, a.dave, offer=CREDITS, amount=500, price=10**12)
    market.send(market.token.functions.burnCredits(a.dave, CREDITS, 120, b"\x01" * 32), a.meter)
    _buy(market, a.outsider, offer=OTHER_OFFER, price=7 * PRICE)


def _paid_on_chain(market, model_id: bytes) -> dict[str, int]:
    """Currency address -> wei the vault split for ``model_id``, read from the chain's logs."""
    logs = market.vault.events.PaymentSplit().get_logs(from_block=0)
    totals: dict[str, int] = {}
    for log in logs:
        if log["args"]["modelId"] == model_id:
            currency = log["args"]["currency"]
            totals[currency] = totals.get(currency, 0) + log["args"]["amount"]
    return totals


def assert_totals_match_the_ledgers() -> None:
    """The running totals equal the sums of the ledger rows, computed here row by row."""
    days, customers, credits = {}, {}, {}
    for p in Payment.objects.all():
        key = (p.network_id, p.model_id, p.currency, p.paid_at.date())
        sums = days.setdefault(key, [0, 0, 0, 0, 0])
        for index, value in enumerate((1, p.amount, p.fee, p.to_payees, p.to_holders)):
            sums[index] += int(value)
        sums[4] += int(p.to_residual)
    for s in Sale.objects.all():
        sums = customers.setdefault((s.network_id, s.model_id, s.currency, s.buyer), [0, 0])
        sums[0] += 1
        sums[1] += int(s.paid)
    for c in CreditEntry.objects.all():
        sums = credits.setdefault((c.network_id, int(c.token_id)), [0, 0])
        sums[0 if c.delta > 0 else 1] += abs(int(c.delta))
    stored_days = {
        (r.network_id, r.model_id, r.currency, r.day): [
            r.payments, int(r.amount), int(r.fee), int(r.to_payees), int(r.to_holders)
        ]
        for r in RevenueDay.objects.all()
    }  # fmt: skip
    stored_customers = {
        (r.network_id, r.model_id, r.currency, r.buyer): [r.purchases, int(r.paid)]
        for r in CustomerTotal.objects.all()
    }
    stored_credits = {
        (r.network_id, int(r.token_id)): [int(r.issued), int(r.burned)]
        for r in CreditTotal.objects.all()
    }
    assert stored_days == days
    assert stored_customers == customers
    assert stored_credits == credits


def _rows(table) -> list[dict]:
    return [dict(zip(table.columns, row, strict=True)) for row in table.rows]


def test_the_dashboard_sums_what_was_paid_to_the_wei(shop, network, market, org_a):
    _purchases(market)
    sync_network(network=network)

    board = dashboard.dashboard_for(organization=org_a, period="day")

    paid = _paid_on_chain(market, MODEL)
    by_currency = {row["Currency"]: row for row in _rows(board.by_model)}
    assert set(by_currency) == {"ETH", "TUSD"}
    assert by_currency["ETH"]["Amount"] == dashboard.units(paid[abi.NATIVE], 18) == "0.0505"
    assert by_currency["TUSD"]["Amount"] == dashboard.units(paid[market.usd.address], 6) == "5"
    assert by_currency["ETH"]["Payments"] == 4
    eth_payments = Payment.objects.filter(model_id=_hex(MODEL), currency=abi.NATIVE)
    fee = sum(int(p.fee) for p in eth_payments)
    assert by_currency["ETH"]["Platform fee"] == dashboard.units(fee, 18)
    over_time = _rows(board.revenue["table"])
    eth_over_time = sum(Decimal(r["Amount"]) for r in over_time if r["Currency"] == "ETH")
    assert eth_over_time == Decimal("0.0505")  # every payment fell in the window
    assert {r["Model"] for r in over_time} == {"Churn"}


def test_licenses_credits_customers_and_sales(shop, network, market, org_a):
    a = market.acct
    _purchases(market)
    sync_network(network=network)

    board = dashboard.dashboard_for(organization=org_a)

    licenses = {row["Offer"]: row for row in _rows(board.licenses["table"])}
    assert licenses["Monthly"]["Active"] == 1
    assert licenses["Perpetual"]["Active"] == licenses["Perpetual"]["Perpetual"] == 1
    assert licenses["Weekly pass"]["Active"] == 1
    assert licenses["Weekly pass"]["Kind"] == "Access pass"
    credits = _rows(board.credits["table"])
    assert credits == [
        {
            "Model": "Churn",
            "Offer": "Credits",
            "Network": "anvil",
            "Sold": 500,
            "Consumed": 120,
            "Left": 380,
        }
    ]
    customers = _rows(board.customers)
    top_eth = [row for row in customers if row["Currency"] == "ETH"]
    assert [row["Buyer"] for row in top_eth] == [a.bob, a.alice, a.dave]
    assert top_eth[1]["Paid"] == "0.02"
    assert top_eth[1]["Purchases"] == 2
    assert [row["Rank"] for row in top_eth] == [1, 2, 3]
    assert Sale.objects.count() == 6  # one per Purchased event, the other org's included
    alice = Sale.objects.filter(buyer=a.alice)
    assert sorted(int(s.paid) for s in alice) == [PRICE, PRICE]


def test_another_organizations_revenue_never_shows(shop, network, market, org_a, org_b):
    _purchases(market)
    sync_network(network=network)

    board = dashboard.dashboard_for(organization=org_a)
    other = dashboard.dashboard_for(organization=org_b)

    for table in board.tables.values():
        assert all("Beta-LEAK" not in str(cell) for row in table.rows for cell in row)
    assert market.acct.outsider not in {row["Buyer"] for row in _rows(board.customers)}
    assert [row[3] for row in other.by_model.rows] == [dashboard.units(7 * PRICE, 18)]
    assert [row["Buyer"] for row in _rows(other.customers)] == [market.acct.outsider]
    assert [row["Model"] for row in _rows(other.customers)] == ["Beta-LEAK fraud"]


def test_block_times_are_the_blocks_and_fill_payments_and_sales(shop, network, market):
    _purchases(market)
    sync_network(network=network)

    events = IndexedEvent.objects.all()
    assert not events.filter(block_time__isnull=True).exists()
    for number, moment in set(events.values_list("block_number", "block_time")):
        assert int(moment.timestamp()) == market.w3.eth.get_block(number)["timestamp"]
    for payment in Payment.objects.select_related("event"):
        assert payment.paid_at == payment.event.block_time
    for sale in Sale.objects.select_related("event"):
        assert sale.sold_at == sale.event.block_time


def test_block_times_are_read_in_batches_when_the_node_leaves_them_out(
    shop, network, market, settings
):
    # given a provider whose logs carry no blockTimestamp
    _purchases(market)
    proxy = LimitingRpcProxy(
        market.node_url, max_block_range=None, max_results=None, strip_block_timestamps=True
    )
    with proxy:
        settings.CHAIN_RPC_URLS = {"anvil": proxy.url}
        sync_network(network=network)
        counters = proxy.counters()

    # then each block with logs was read once, by hash, in batches
    blocks = set(IndexedEvent.objects.values_list("block_hash", "block_time"))
    assert counters["methods"]["eth_getBlockByHash"] == len(blocks)
    assert counters["batches"] >= 1
    for block_hash, moment in blocks:
        assert int(moment.timestamp()) == market.w3.eth.get_block(block_hash)["timestamp"]
    assert not Payment.objects.filter(paid_at__isnull=True).exists()


def test_block_times_survive_a_reorg(shop, network, market):
    # given an indexed history and a branch that the node then drops
    a = market.acct
    _purchases(market)
    sync_network(network=network)
    kept = dict(Payment.objects.values_list("event__tx_hash", "paid_at"))
    fork = market.snapshot()
    _buy(market, a.alice)
    sync_network(network=network)
    dropped = Payment.objects.exclude(event__tx_hash__in=kept).get().event.tx_hash

    # when the canonical branch, a day later, holds other purchases
    market.revert(fork)
    market.advance(DAY)
    for _ in range(2):
        _buy(market, a.dave)
    stats = sync_network(network=network)

    # then the rows before the fork keep their times; the new ones have their blocks' times
    assert stats.reorgs
    assert not Payment.objects.filter(event__tx_hash=dropped).exists()
    after = dict(Payment.objects.values_list("event__tx_hash", "paid_at"))
    assert {tx: after[tx] for tx in kept} == kept
    new = Payment.objects.exclude(event__tx_hash__in=kept).select_related("event")
    assert new.count() == 2
    for payment in new:
        block = market.w3.eth.get_block(payment.event.block_number)
        assert int(payment.paid_at.timestamp()) == block["timestamp"]
        assert payment.paid_at > max(kept.values())
    sales = Sale.objects.filter(buyer=a.dave).exclude(token_id=CREDITS)
    assert sales.count() == 2
    assert not sales.filter(sold_at__isnull=True).exists()
    assert_totals_match_the_ledgers()  # the dropped day's and buyer's totals recomputed


def test_amounts_in_unknown_currencies_show_raw_with_their_address(network, market, org_a):
    book = dashboard.CurrencyBook()
    Currency.objects.create(network=network, address="", symbol="ETH")
    known = dashboard.CurrencyBook()

    assert book.amount(network.pk, abi.NATIVE, 1234) == "1234"
    assert book.symbol(network.pk, abi.NATIVE) == abi.NATIVE
    assert known.amount(network.pk, abi.NATIVE, 10**18 + 5) == "1.000000000000000005"
    assert known.symbol(network.pk, abi.NATIVE.lower()) == "ETH"
    assert dashboard.units(-(10**17), 18) == "-0.1"
    assert dashboard.units(2**256 - 1, 18).startswith("115792089237316195423570985008687907853269")


# --- the admin page ---


def _manager(make_staff, client, organization, role=Role.MANAGER):
    user = make_staff(organization, role)
    client.force_login(user)
    return user


def test_the_page_shows_the_tables_and_chart_data(shop, network, market, org_a, make_staff, client):
    _purchases(market)
    sync_network(network=network)
    _manager(make_staff, client, org_a, Role.VIEWER)

    response = client.get(URL)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Dashboard of Alpha Models" in page
    assert "0.0505" in page  # ETH revenue, exact, in the table
    assert_totals_match_the_ledgers()
    assert 'id="dashboard-data"' in page
    assert "<script>" not in page
    assert "vendor/chart.js/chart.umd.min.js" in page
    assert "js/dashboard.js" in page
    assert 'role="img" aria-label="Revenue in ETH' in page
    assert "<figcaption>" in page
    assert "<caption>" in page
    assert "Beta-LEAK" not in page
    assert reverse("admin:licensing_dashboard") == URL


def test_every_table_exports_as_csv(shop, network, market, org_a, make_staff, client):
    _purchases(market)
    sync_network(network=network)
    _manager(make_staff, client, org_a)
    board = dashboard.dashboard_for(organization=org_a)

    for name, table in board.tables.items():
        response = client.get(URL, {"organization": org_a.pk, "export": name})
        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert f'filename="alpha-{name}-' in response["Content-Disposition"]
        rows = list(csv.reader(io.StringIO(response.content.decode())))
        assert tuple(rows[0]) == table.columns
        assert rows[1:] == [[str(cell) for cell in row] for row in table.rows]
    by_model = client.get(URL, {"export": "revenue_by_model"}).content.decode()
    assert ",ETH,0.0505," in by_model
    assert client.get(URL, {"export": "nothing"}).status_code == 404


def test_agents_paying_per_call_are_a_channel_of_their_own(
    shop, network, market, org_a, make_staff, client
):
    # given: a purchase in ETH, and an agent paying two calls in TUSDC (EIP-3009, x402)
    usdc = Currency(
        network=network,
        symbol="TUSDC",
        address=market.usdc.address,
        decimals=6,
        eip3009=True,
        eip712_name="Test USD Coin",
        eip712_version="2",
    )
    usdc.full_clean()
    usdc.save()
    agent = Account.create()
    market.send(market.usdc.functions.mint(agent.address, 10**7), market.acct.outsider)
    _buy(market, market.acct.alice)
    for number, value in enumerate((1_250_000, 500_000)):
        auth = Authorization.new(
            market.usdc,
            payer=agent.address,
            to=market.pay_per_call.address,
            value=value,
            now=market.now(),
        )
        receipt = Web3.keccak(text=f"call {number}")
        call = market.pay_per_call.functions.settle(
            *auth.settle_args(MODEL, auth.sign(agent.key), receipt)
        )
        market.send(call, market.acct.meter)
    sync_network(network=network)

    # when
    board = dashboard.dashboard_for(organization=org_a)
    _manager(make_staff, client, org_a, Role.VIEWER)
    page = client.get(URL).content.decode()
    export = client.get(URL, {"export": "revenue_by_channel"}).content.decode()

    # then: purchases and agents side by side, each in its currency, exact
    assert _rows(board.by_channel) == [
        {"Model": "Churn", "Network": "anvil", "Currency": "ETH", "Channel": "Purchases",
         "Amount": "0.01", "Payments": 1},
        {"Model": "Churn", "Network": "anvil", "Currency": "TUSDC", "Channel": "Agents (x402)",
         "Amount": "1.75", "Payments": 2},
    ]  # fmt: skip
    # the agents' money is revenue the vault split like any other
    by_currency = {row["Currency"]: row for row in _rows(board.by_model)}
    assert by_currency["TUSDC"]["Amount"] == "1.75"
    assert 'id="table-revenue_by_channel"' in page
    assert "<td>Agents (x402)</td>" in page
    assert "Churn,anvil,TUSDC,Agents (x402),1.75,2" in export
    assert_totals_match_the_ledgers()


def test_only_the_users_organizations(shop, org_a, org_b, make_staff, client):
    user = _manager(make_staff, client, org_a, Role.VIEWER)
    assert client.get(URL, {"organization": org_b.pk}).status_code == 404
    assert client.get(URL, {"organization": "x"}).status_code == 404
    assert "dashboard-organization" not in client.get(URL).content.decode()  # one: no picker

    from portal.services import membership_set

    membership_set(organization=org_b, user=user, role=Role.VIEWER)
    page = client.get(URL, {"organization": org_b.pk}).content.decode()
    assert "Dashboard of Beta-LEAK Analytics" in page
    assert 'id="dashboard-organization"' in page

    client.force_login(make_staff(None, None, superuser=True))
    assert client.get(URL, {"organization": org_b.pk}).status_code == 200
    client.force_login(make_staff(None, None))  # staff of no organization
    assert client.get(URL).status_code == 403
    client.logout()
    assert client.get(URL).status_code == 302  # to the sign-in


def test_failed_and_pending_publishing_steps(shop, network, org_a, make_staff, client):
    statuses = [TxStatus.PENDING, TxStatus.SUBMITTED, TxStatus.REVERTED, TxStatus.CONFIRMED]
    for number, status in enumerate(statuses):
        tx = OutboundTransaction.objects.create(
            network=network,
            idempotency_key=f"step-{number}",
            sender="0x" + "11" * 20,
            data="0x",
            status=status,
            revert_reason="OfferExists(11)" if status == TxStatus.REVERTED else "",
        )
        PublishStep.objects.create(
            model=shop, network=network, kind=PublishStepKind.REGISTER, transaction=tx
        )

    steps = dashboard.dashboard_for(organization=org_a).steps

    assert (steps["pending"], steps["failed"]) == (2, 1)
    states = sorted((row[5], row[6], row[7]) for row in steps["table"].rows)
    assert states == [
        ("failed", "Reverted", "OfferExists(11)"),
        ("pending", "Pending", ""),
        ("pending", "Submitted", ""),
    ]
    _manager(make_staff, client, org_a)
    index = client.get("/admin/").content.decode()
    assert "Failed publishing steps" in index
    assert '<span class="badge badge-bad">1</span>' in index


def test_the_admin_index_summarizes_each_organization(
    shop, network, market, org_a, org_b, make_staff, client
):
    _purchases(market)
    sync_network(network=network)
    _manager(make_staff, client, org_a)

    index = client.get("/admin/").content.decode()

    assert "Revenue, last 30 days" in index
    assert "0.0505 ETH" in index
    assert "5 TUSD" in index
    assert f"{URL}?organization={org_a.pk}" in index
    assert "Beta-LEAK" not in index
    box = dashboard.summaries(organizations=[org_a])[0]
    assert box.active_licenses == 3
    assert box.failed_steps == 0


def _page_queries(client, organization) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL, {"organization": organization.pk})
    assert response.status_code == 200
    return len(queries)


def test_the_page_costs_the_same_queries_with_3_and_30_payments(
    shop, network, market, org_a, make_staff, client
):
    a = market.acct
    _manager(make_staff, client, org_a)
    buyers = [a.alice, a.bob, a.carol, a.dave, a.outsider]
    for number in range(3):
        _buy(market, buyers[number])
    sync_network(network=network)
    assert Payment.objects.count() == 3
    with_3 = _page_queries(client, org_a)

    for number in range(27):
        _buy(market, buyers[number % len(buyers)])
    _buy(market, a.carol, offer=PASS_TOKEN, price=5 * 10**6, value=0)
    _buy(market, a.dave, offer=CREDITS, amount=5, price=10**12)
    sync_network(network=network)
    assert Payment.objects.count() == 32

    assert _page_queries(client, org_a) == with_3


# (folder in static/vendor, npm package, its files' folder, the files, the license's name)
VENDORED = {
    # the source map ships too: collectstatic's manifest follows the script's sourceMappingURL
    "chart.js": ("chart.js", "dist", ("chart.umd.min.js", "chart.umd.min.js.map"), "LICENSE.md"),
    # the job pages' live progress (templates/jobs/); its minified file names no source map
    "htmx": ("htmx.org", "dist", ("htmx.min.js",), "LICENSE"),
}


@pytest.mark.parametrize("folder", sorted(VENDORED))
def test_the_vendored_browser_library_is_the_pinned_package(settings, folder):
    from pathlib import Path

    package_name, dist, names, license_name = VENDORED[folder]
    vendored = Path(settings.BASE_DIR) / "static/vendor" / folder
    package = Path(settings.BASE_DIR) / "node_modules" / package_name
    assert (vendored / license_name).exists()
    assert (vendored / license_name).read_bytes() == (package / license_name).read_bytes()
    for name in names:
        assert (package / dist / name).exists(), f"npm ci installs {package_name} (make setup)"
        assert (vendored / name).read_bytes() == (package / dist / name).read_bytes(), (
            "run `make vendor`"
        )
