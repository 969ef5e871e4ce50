"""Currencies agents can pay per call with: an EIP-3009 token names its EIP-712 domain (a
database constraint), and the currencies' admin shows and filters the flag."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from licensing.models import Currency
from licensing.tests.factories import matrix_network

TOKEN = "0x" + "3c" * 20


def _currency(**fields) -> Currency:
    values = {"symbol": "TUSDC", "address": TOKEN, "decimals": 6, **fields}
    return Currency(network=matrix_network(), **values)


def test_an_eip3009_currency_is_a_token_with_its_eip712_domain(db):
    good = _currency(eip3009=True, eip712_name="Test USD Coin", eip712_version="2")
    good.full_clean()
    good.save()

    for broken in (
        _currency(symbol="A", address="0x" + "aa" * 20, eip3009=True, eip712_version="2"),
        _currency(symbol="B", address="0x" + "bb" * 20, eip3009=True, eip712_name="X"),
        _currency(symbol="ETH", address="", eip3009=True, eip712_name="X", eip712_version="1"),
    ):
        with pytest.raises(ValidationError, match="EIP-712 domain name and version"):
            broken.full_clean()
        with pytest.raises(IntegrityError), transaction.atomic():
            broken.save()  # the rule is the database's too
    plain = _currency(symbol="DUSD", address="0x" + "dd" * 20)
    plain.full_clean()  # an ordinary ERC-20 needs no domain


def test_the_currencies_admin_shows_the_flag(db, make_staff, client):
    _currency(eip3009=True, eip712_name="Test USD Coin", eip712_version="2").save()
    _currency(symbol="DUSD", address="0x" + "dd" * 20).save()
    client.force_login(make_staff(superuser=True))

    page = client.get("/admin/licensing/currency/").content.decode()
    flagged = client.get("/admin/licensing/currency/", {"eip3009__exact": "1"}).content.decode()
    form = client.get(
        f"/admin/licensing/currency/{Currency.objects.get(symbol='TUSDC').pk}/change/"
    )

    assert "EIP-3009" in page
    assert "TUSDC" in flagged
    assert "DUSD" not in flagged
    body = form.content.decode()
    assert 'name="eip712_name"' in body
    assert 'value="Test USD Coin"' in body
