"""A model's publisher sells it per call to agents from the admin: the offer saves through its
service; a token without EIP-3009 is not offered, and a network without the settler is refused
on its field."""

from __future__ import annotations

import pytest
from django.urls import reverse

from chain.models import Deployment, Network
from licensing.models import Currency
from models_hub import services
from models_hub.choices import Task
from models_hub.models import PayPerCallOffer
from portal.choices import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain_rows():
    network = Network.objects.create(name="agents-net", chain_id=777001, confirmation_depth=1)
    Deployment.objects.create(
        network=network,
        contract_name="PayPerCall",
        address="0x" + "5e" * 20,
        deploy_block=1,
        code_hash="0x",
    )
    bare = Network.objects.create(name="bare-net", chain_id=777002, confirmation_depth=1)
    tusdc = Currency.objects.create(
        network=network,
        symbol="TUSDC",
        address="0x" + "3c" * 20,
        decimals=6,
        eip3009=True,
        eip712_name="Test USD Coin",
        eip712_version="2",
    )
    plain = Currency.objects.create(
        network=network, symbol="DUSD", address="0x" + "4d" * 20, decimals=6
    )
    return network, bare, tusdc, plain


def _post(client, model, network, currency, price="1000"):
    return client.post(
        reverse("admin:models_hub_paypercalloffer_add"),
        {
            "model": model.pk,
            "network": network.pk,
            "currency": currency.pk,
            "price": price,
            "timeout_seconds": "60",
            "active": "on",
        },
    )


def test_a_manager_sells_a_model_per_call(client, org_a, make_staff, chain_rows):
    network, _, tusdc, _ = chain_rows
    model = services.model_create(organization=org_a, name="Agents", task=Task.CLASSIFICATION)
    client.force_login(make_staff(org_a, Role.MANAGER))

    response = _post(client, model, network, tusdc)

    assert response.status_code == 302, response.context["adminform"].form.errors
    offer = PayPerCallOffer.objects.get()
    assert (offer.model, offer.currency, int(offer.price)) == (model, tusdc, 1000)


def test_a_token_without_eip3009_or_a_network_without_the_settler_is_refused(
    client, org_a, make_staff, chain_rows
):
    network, bare, tusdc, plain = chain_rows
    model = services.model_create(organization=org_a, name="Agents", task=Task.CLASSIFICATION)
    client.force_login(make_staff(org_a, Role.MANAGER))

    not_offered = _post(client, model, network, plain)
    no_settler = _post(client, model, bare, tusdc)

    assert "currency" in not_offered.context["adminform"].form.errors
    errors = no_settler.context["adminform"].form.errors
    assert "PayPerCall is not deployed" in str(errors.get("network") or errors)
    assert not PayPerCallOffer.objects.exists()
