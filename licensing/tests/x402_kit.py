"""The x402 test kit: the price the shop's model sells at per call, a predict body, and what an
agent sends (the ``x402`` package's client signs the authorization; ``tamper`` changes it after
signing). The ``agents`` and ``agent`` fixtures (``licensing/tests/conftest.py``) set the shop
up."""

from __future__ import annotations

import base64
import json

from sklearn.datasets import load_iris

PRICE = 1_000  # 0.001 TUSDC a call


def body(rows: int = 2) -> str:
    return json.dumps({"rows": load_iris().data[:rows].tolist()})


def post(client, url, data=None, **headers):
    """POST ``data`` (two iris rows by default) to the predict ``url`` with ``headers``."""
    return client.post(url, data or body(), content_type="application/json", headers=headers)


def requirements_of(response):
    """The x402 requirements a 402 carries in its PAYMENT-REQUIRED header."""
    from x402.http.utils import decode_payment_required_header

    return decode_payment_required_header(response["PAYMENT-REQUIRED"])


def pay(wallet, required) -> str:  # a LocalAccount, or an x402 signer
    """What the x402 package's client sends for a 402: the signed authorization, encoded. Its
    spend controls allow the test token, up to 0.01 TUSDC a payment."""
    from x402 import x402ClientSync
    from x402.http.utils import encode_payment_signature_header
    from x402.mechanisms.evm.exact.register import register_exact_evm_client
    from x402.mechanisms.evm.signers import EthAccountSigner

    signer = wallet if isinstance(wallet, EthAccountSigner) else EthAccountSigner(wallet)
    client = register_exact_evm_client(x402ClientSync(), signer)
    accept = required.accepts[0]
    client.set_spend_controls(
        {
            "allowed_assets": [
                {
                    "network": accept.network,
                    "asset": accept.asset,
                    "max_amount_per_payment": "10000",
                }
            ]
        }
    )
    return encode_payment_signature_header(client.create_payment_payload(required))


def tamper(header: str, **changes) -> str:
    payload = json.loads(base64.b64decode(header))
    payload["payload"]["authorization"].update(changes)
    return base64.b64encode(json.dumps(payload).encode()).decode()


def tamper_accepted(header: str, **changes) -> str:
    payload = json.loads(base64.b64decode(header))
    payload["accepted"].update(changes)
    return base64.b64encode(json.dumps(payload).encode()).decode()


def signed(header: str) -> dict:
    """The payment's ``payload``: its ``authorization`` fields and ``signature``."""
    return json.loads(base64.b64decode(header))["payload"]
