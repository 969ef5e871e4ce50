"""Every revert our contracts can answer has a sentence a person can read, also when it comes
back from the outbox's stored text."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector

from chain import abi
from chain.abi import DecodedRevert, decode_revert
from licensing.reasons import (
    GENERIC,
    GENERIC_ON_PURPOSE,
    error_inputs,
    explain,
    explain_reason,
    format_amount,
    parse_reason,
)

SAMPLES = {
    "address": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "bytes32": bytes(abi.PUBLISHER_ROLE),
    "string": "modelId, or so=it says",
    "bool": True,
    "uint8": 2,
    "uint16": 2_500,  # basis points
    "uint64": 1_767_225_600,
}
USD = SimpleNamespace(symbol="TUSD", decimals=6)


def _sample(abi_type: str):
    if abi_type in SAMPLES:
        return SAMPLES[abi_type]
    assert abi_type.startswith(("uint", "int")), f"add a sample value for {abi_type}"
    return 12_345_000


def _errors():
    """(name, inputs) of every error entry of every artifact (each variant once)."""
    for name, variants in sorted(error_inputs().items()):
        for inputs in variants:
            yield name, inputs


ERRORS = list(_errors())


def _revert_data(name: str, inputs: list[dict]) -> bytes:
    types = [item["type"] for item in inputs]
    selector = function_signature_to_4byte_selector(f"{name}({','.join(types)})")
    return selector + encode(types, [_sample(t) for t in types])


def test_the_artifacts_define_errors():
    names = {name for name, _ in ERRORS}
    assert {"PriceAboveMax", "ERC20InsufficientAllowance", "NothingToExtend"} <= names
    assert len(names) > 50


@pytest.mark.parametrize(("name", "inputs"), ERRORS, ids=[n for n, _ in ERRORS])
def test_every_error_has_a_sentence_of_its_own(name, inputs):
    decoded = decode_revert(_revert_data(name, inputs))
    assert decoded.name == name

    sentence = explain(decoded, currency=USD)

    if name in GENERIC_ON_PURPOSE:
        assert sentence == GENERIC.format(name=decoded.signature)
        return
    assert sentence != GENERIC.format(name=decoded.signature), f"{name} has no sentence"
    assert sentence.endswith("."), sentence
    assert "{" not in sentence, sentence
    assert "None" not in sentence, sentence


@pytest.mark.parametrize(("name", "inputs"), ERRORS, ids=[n for n, _ in ERRORS])
def test_the_outbox_text_of_every_error_reads_the_same(name, inputs):
    """The sender stores ``str(decode_revert(...))``; parsed back, it explains the same."""
    decoded = decode_revert(_revert_data(name, inputs))

    parsed = parse_reason(str(decoded))

    assert parsed is not None, str(decoded)
    assert parsed.name == decoded.name
    assert explain(parsed) == explain(decoded)


def test_price_above_max_shows_both_prices_in_the_currency():
    decoded = DecodedRevert("PriceAboveMax", {"id": 1, "price": 7_500_000, "maxPrice": 5_000_000},
                            "", "")  # fmt: skip

    sentence = explain(decoded, currency=USD)

    assert "from 5 TUSD to 7.5 TUSD" in sentence
    assert "Reload" in sentence


def test_amounts_without_a_currency_say_their_unit():
    assert format_amount(10**16) == "10000000000000000 (in the currency's smallest unit)"
    assert format_amount(10**16, SimpleNamespace(symbol="ETH", decimals=18)) == "0.01 ETH"
    assert format_amount(0, USD) == "0 TUSD"


def test_reverts_that_are_not_custom_errors():
    assert "without saying why" in explain_reason("reverted without a reason")
    assert "0xdeadbeef" in explain_reason("unknown error 0xdeadbeef")
    assert "ran out of gas" in explain_reason(
        "reverted on chain (out of gas, or the state changed before it was mined)"
    )
    panic = decode_revert(
        function_signature_to_4byte_selector("Panic(uint256)") + encode(["uint256"], [0x11])
    )
    assert "arithmetic overflow" in explain_reason(str(panic))
    message = decode_revert(
        function_signature_to_4byte_selector("Error(string)") + encode(["string"], ["no, sir"])
    )
    assert explain_reason(str(message)).endswith("no, sir")
    assert explain_reason("") == ""
    assert explain_reason("ConnectionError: node down") == "ConnectionError: node down"
