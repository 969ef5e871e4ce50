"""Publishing to chain end to end, through the admin with the test client, on two anvil nodes
with different chain ids: staff configure a model's offers (a license tier, a 30-day access
pass, a credits pack, shares with a cap table), payees and a contributor, publish to both
networks, the outbox sender and the sync run, and the chain and the projections show it."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from chain import abi
from chain.choices import OfferKind
from chain.models import OutboundTransaction
from chain.testing import contracts
from chain.testing.devnode import ANVIL
from chain.testing.required import require_service
from licensing.choices import PublishStepKind, PublishStepStatus
from licensing.models import (
    ChainOffer,
    ChainPayees,
    Holding,
    License,
    ModelTokenomics,
    Offer,
    Payment,
    PublishedVersion,
    PublishStep,
    Sale,
)
from licensing.services.publishing import step_views
from licensing.services.tokenomics import offer_pending_diff, offer_save, onchain_payees
from licensing.tests.publishing_setup import (
    OPERATOR,
    OPERATOR_KEY,
    TREASURY,
    drain,
    erc20,
    listed_model,
    native,
    network_for,
    published_version,
    start_chain,
    terms_for,
    wei,
)
from portal.choices import Role

PAYEE = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"  # anvil account #4
CONTRIBUTOR = "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc"  # anvil account #5
HOLDERS = {"0x14dC79964da2C08b23698B3D3cc7Ca32193d9955": 600, TREASURY: 400}  # #7, #3
STEPS_PER_NETWORK = 8  # register, one version, four offers, payees, the share mint


@pytest.fixture(scope="module")
def chains():
    require_service(ANVIL.exists(), "anvil is not installed (npm ci)")
    north, south = start_chain(), start_chain()
    assert north.node.chain_id != south.node.chain_id
    yield north, south
    north.node.stop()
    south.node.stop()


@pytest.fixture
def networks(db, settings, chains):
    north, south = chains
    snapshots = [(chain, chain.snapshot()) for chain in chains]
    settings.CHAIN_RPC_URLS = {"north": north.node.url, "south": south.node.url}
    settings.CHAIN_OPERATOR_KEY = OPERATOR_KEY
    settings.CHAIN_TX_RECEIPT_WAIT = 5
    yield network_for(north, "north"), network_for(south, "south")
    for chain, snapshot in snapshots:
        chain.revert(snapshot)


@pytest.fixture
def staff(make_staff, org_a):
    return {role: make_staff(org_a, role) for role in Role}


def _post(client, user, url, data):
    client.force_login(user)
    response = client.post(url, data)
    assert response.status_code == 302, _errors(response)
    return response


def _errors(response):
    if response.context and "adminform" in response.context:
        return response.context["adminform"].form.errors
    return response.content[:2000]


def _add(model_name: str) -> str:
    return reverse(f"admin:licensing_{model_name}_add")


def _offer_form(model, network, kind, tier, *, price="", currency=None, days="", **extra):
    data = {
        "model": model.pk,
        "network": network.pk,
        "kind": int(kind),
        "tier_name": tier,
        "currency": currency.pk if currency else "",
        "price_amount": price,
        "duration_days": days,
        "max_supply": "0",
        "credits_per_unit": "0",
        "usage_unit": "",
        "terms": "",
        "active": "on",
    }
    data.update(extra)
    return data


@pytest.fixture
def configured(client, networks, chains, staff, org_a):
    """A model with four offers on each network, a payee, a contributor and a cap table, all
    configured through the admin (managers the offers and contributor, the owner the rest)."""
    org_a.treasury_address = TREASURY
    org_a.save()
    model = listed_model(org_a)
    version = published_version(model)
    terms = terms_for(org_a)
    manager, owner = staff[Role.MANAGER], staff[Role.OWNER]
    for network, chain in zip(networks, chains, strict=True):
        eth = native(network)
        pass_currency = erc20(network, chain.usd.address) if network.name == "north" else eth
        pass_price = "5" if network.name == "north" else "0.002"
        paid = {"terms": terms.pk}
        forms = [
            _offer_form(
                model, network, OfferKind.LICENSE, "Pro", price="0.01", currency=eth, **paid
            ),
            _offer_form(
                model,
                network,
                OfferKind.ACCESS_PASS,
                "30-day pass",
                price=pass_price,
                currency=pass_currency,
                days="30",
                **paid,
            ),
            _offer_form(
                model,
                network,
                OfferKind.CREDITS,
                "1,000 calls",
                price="0.001",
                currency=eth,
                credits_per_unit="1000",
                usage_unit="call",
                **paid,
            ),
            _offer_form(model, network, OfferKind.SHARES, "Ownership", transferable="on"),
        ]
        for data in forms:
            _post(client, manager, _add("offer"), data)
    tokenomics = ModelTokenomics.objects.get(model=model)
    change = reverse("admin:licensing_modeltokenomics_change", args=[tokenomics.pk])
    _post(client, owner, change, {"metadata_uri": "ipfs://iris", "contributors_bps": "1000"})
    _post(
        client,
        owner,
        _add("payee"),
        {"model": model.pk, "label": "Data", "address": PAYEE, "bps": "500"},
    )
    _post(
        client,
        manager,
        _add("contributor"),
        {
            "version": version.pk,
            "address": CONTRIBUTOR,
            "name": "Ada",
            "role": "author",
            "share_bps": "10000",
        },
    )
    for holder, amount in HOLDERS.items():
        data = {"model": model.pk, "holder": holder, "label": "", "amount": str(amount)}
        _post(client, owner, _add("shareallocation"), data)
    assert Offer.objects.filter(model=model).count() == 8
    return tokenomics


def _publish(client, user, tokenomics, networks):
    changelist = reverse("admin:licensing_modeltokenomics_changelist")
    client.force_login(user)
    selected = {"action": "publish_to_chain", ACTION_CHECKBOX_NAME: [tokenomics.pk]}
    page = client.post(changelist, selected)
    assert page.status_code == 200
    assert b"Publish to the chosen networks" in page.content
    chosen = {**selected, "post": "yes", "network": [n.pk for n in networks]}
    response = client.post(changelist, chosen, follow=True)
    assert response.status_code == 200
    return [str(m) for m in response.context["messages"]]


def _statuses(**filters) -> list[str]:
    return [view.status for view in step_views(PublishStep.objects.filter(**filters))]


def _views(chain):
    token, registry, vault = chain.suite.token, chain.suite.registry, chain.suite.vault
    return token.functions, registry.functions, vault.functions


def test_publish_to_two_networks_through_the_admin(client, configured, networks, chains, staff):
    # given: the model configured through the admin; when: a manager publishes to both networks
    manager = staff[Role.MANAGER]
    model = configured.model
    model_id = bytes.fromhex(configured.chain_model_id[2:])

    messages = _publish(client, manager, configured, networks)
    for network in networks:
        drain(network)

    # then: every step was queued once, in order, and is confirmed by the sync
    assert any(m.startswith("north: queued what the chain lacks") for m in messages)
    for network in networks:
        steps = PublishStep.objects.filter(network=network).order_by("pk")
        assert [s.kind for s in steps] == [
            PublishStepKind.REGISTER,
            PublishStepKind.VERSION,
            *[PublishStepKind.OFFER] * 4,
            PublishStepKind.PAYEES,
            PublishStepKind.SHARES,
        ]
        assert set(_statuses(network=network)) == {PublishStepStatus.CONFIRMED}
    # ... the chain has the registry entry, the version hash, the offers, payees and shares
    version = model.versions.get()
    for network, chain in zip(networks, chains, strict=True):
        token, registry, vault = _views(chain)
        publisher, uri, _, count = registry.modelOf(model_id).call()
        assert (publisher, uri, count) == (TREASURY, "ipfs://iris", 1)
        artifact = registry.artifactHashOf(model_id, version.sort_key).call()
        assert artifact.hex() == version.sha256
        for offer in Offer.objects.filter(network=network):
            on_chain = token.offers(int(offer.token_id)).call()
            assert on_chain[5] is True, f"{offer} is not active on {network.name}"
            assert offer_pending_diff(offer) == []
        accounts, bps = vault.payeesOf(model_id).call()
        assert list(zip(accounts, bps, strict=True)) == onchain_payees(model)
        assert {(PAYEE, 500), (CONTRIBUTOR, 1000)} <= set(onchain_payees(model))
        shares = Offer.objects.get(network=network, kind=OfferKind.SHARES)
        assert token.shareInfo(model_id).call() == [int(shares.token_id), 1000]
        for holder, amount in HOLDERS.items():
            assert token.balanceOf(holder, int(shares.token_id)).call() == amount
    # ... and in the projections
    for network in networks:
        assert ChainOffer.objects.filter(network=network, active=True).count() == 4
        assert PublishedVersion.objects.get(network=network).model_version == version
        payees = ChainPayees.objects.get(network=network)
        assert payees.pairs() == onchain_payees(model)
        shares = Offer.objects.get(network=network, kind=OfferKind.SHARES)
        assert Holding.objects.filter(network=network, token_id=shares.token_id).count() == 2
    page = client.get(reverse("admin:licensing_modeltokenomics_change", args=[configured.pk]))
    assert page.content.decode().count("Confirmed by the sync") == 2 * STEPS_PER_NETWORK

    # when: published again, unchanged
    sent = OutboundTransaction.objects.count()
    last_sent = OutboundTransaction.objects.latest("pk").pk
    again = _publish(client, manager, configured, networks)

    # then: nothing is queued
    assert OutboundTransaction.objects.count() == sent
    assert sum("nothing queued" in m for m in again) == 2

    # when: a manager changes the license's price on north
    north = networks[0]
    license_offer = Offer.objects.get(network=north, kind=OfferKind.LICENSE)
    change = reverse("admin:licensing_offer_change", args=[license_offer.pk])
    data = _offer_form(
        model,
        north,
        OfferKind.LICENSE,
        "Pro",
        price="0.02",
        currency=license_offer.currency,
        terms=license_offer.terms_id,
    )
    _post(client, manager, change, data)
    license_offer.refresh_from_db()

    # then: the offer shows a pending diff, and publishing queues exactly one configureOffer
    assert offer_pending_diff(license_offer) == [("price", str(wei("0.01")), str(wei("0.02")))]
    _publish(client, manager, configured, networks)
    new = PublishStep.objects.filter(transaction_id__gt=last_sent)
    assert [(s.kind, s.offer, s.transaction.function) for s in new] == [
        (PublishStepKind.OFFER, license_offer, "configureOffer")
    ]
    drain(north)
    assert offer_pending_diff(license_offer) == []


def test_a_reverted_step_shows_its_reason_and_a_retry_confirms_it(
    client, configured, networks, chains, staff
):
    manager = staff[Role.MANAGER]
    south, chain = networks[1], chains[1]
    _publish(client, manager, configured, [south])
    drain(south)
    # given: the operator lost the publisher role on south, and a manager changed a price there
    token = chain.suite.token
    contracts.send(token.functions.revokeRole(abi.PUBLISHER_ROLE, OPERATOR), sender=chain.admin)
    pack = Offer.objects.get(network=south, kind=OfferKind.CREDITS)
    per_credit = int(pack.price) // pack.credits_per_unit
    pack.price = 2 * int(pack.price)
    offer_save(offer=pack)

    # when: it is published and the outbox sends it
    _publish(client, manager, configured, [south])
    drain(south)

    # then: the step failed, and the admin says why
    failed = PublishStep.objects.filter(offer=pack).latest("pk")
    (view,) = step_views(PublishStep.objects.filter(pk=failed.pk))
    assert view.status == PublishStepStatus.FAILED
    assert "AccessControlUnauthorizedAccount" in failed.transaction.revert_reason
    why = f"The sending account {OPERATOR} lacks the publisher role on this contract"
    assert view.reason.startswith(why)
    changelist = reverse("admin:licensing_publishstep_changelist")
    listing = client.get(changelist, {"status": PublishStepStatus.FAILED}).content.decode()
    assert why in listing
    assert pack.tier_name in listing
    assert offer_pending_diff(pack) == [("price", str(per_credit), str(2 * per_credit))]

    # when: the role is granted again and a manager retries the step from the admin
    contracts.send(token.functions.grantRole(abi.PUBLISHER_ROLE, OPERATOR), sender=chain.admin)
    retried = client.post(
        changelist,
        {"action": "retry", ACTION_CHECKBOX_NAME: [failed.pk], "post": "yes"},
        follow=True,
    )
    drain(south)

    # then: a new attempt was sent and confirmed, and the chain has the new price
    assert "Queued 1 new attempt(s)." in [str(m) for m in retried.context["messages"]]
    latest = PublishStep.objects.filter(offer=pack).latest("pk")
    assert latest.pk != failed.pk
    assert latest.transaction.idempotency_key.endswith(":1")
    assert _statuses(pk=latest.pk) == [PublishStepStatus.CONFIRMED]
    assert offer_pending_diff(pack) == []
    assert token.functions.offers(int(pack.token_id)).call()[7] == 2 * per_credit


def test_a_purchase_of_a_published_offer_is_projected_for_that_offer(
    client, configured, networks, chains, staff
):
    # given: the model published on north
    north, chain = networks[0], chains[0]
    _publish(client, staff[Role.MANAGER], configured, [north])
    drain(north)
    license_offer = Offer.objects.get(network=north, kind=OfferKind.LICENSE)
    price = int(license_offer.price)

    # when: a customer buys the license from a test wallet (node-signed)
    buyer = chain.accounts[6]
    purchase = chain.suite.token.functions.purchase(int(license_offer.token_id), 1, price)
    contracts.send(purchase, sender=buyer, value=price)
    drain(north)

    # then: the sale, its payment and the license are projected for that offer's token id
    # (matched by value: on SQLite, 16-digit token ids are read back rounded, see the report)
    of_offer = {"network": north, "token_id": license_offer.token_id}
    sale = Sale.objects.get(buyer=buyer, **of_offer)
    assert int(sale.paid) == price
    assert sale.model_id == configured.chain_model_id
    payment = Payment.objects.get(network=north, model_id=configured.chain_model_id)
    assert int(payment.amount) == price
    assert int(payment.to_payees) == price * 1500 // 10_000  # the payee and the contributor
    held = License.objects.get(holder=buyer, **of_offer)
    assert held.is_valid()


def test_viewers_see_no_publish_button_and_their_posts_are_refused(
    client, configured, networks, staff
):
    viewer, manager = staff[Role.VIEWER], staff[Role.MANAGER]
    change = reverse("admin:licensing_modeltokenomics_change", args=[configured.pk])
    publish = reverse("admin:licensing_modeltokenomics_publish", args=[configured.pk])
    changelist = reverse("admin:licensing_modeltokenomics_changelist")
    action = {"action": "publish_to_chain", ACTION_CHECKBOX_NAME: [configured.pk]}

    client.force_login(viewer)
    viewer_page = client.get(change).content.decode()
    refused = [
        client.get(publish).status_code,
        client.post(publish, {"network": [networks[0].pk]}).status_code,
        client.post(changelist, {**action, "post": "yes", "network": [networks[0].pk]}).status_code,
    ]
    client.force_login(manager)
    manager_page = client.get(change).content.decode()
    no_network = client.post(publish, {"post": "yes"})

    assert 'id="publish-to-chain-link"' not in viewer_page
    assert "Not published to any network yet." in viewer_page
    assert refused == [403, 403, 403]
    assert 'id="publish-to-chain-link"' in manager_page
    assert no_network.status_code == 200
    assert b"Pick at least one network." in no_network.content
    assert not PublishStep.objects.exists()
