"""What paying per call costs a predict call: an agent's paid call (x402 v2, verified on the
portal's own anvil node, its settlement queued in the outbox and not awaited) against the same
call with the publisher's API key, interleaved in one process.

An anvil node of the bench's own gets the suite and the test EIP-3009 token (TUSDC); the iris
model is sold per call in TUSDC. Each paid call carries a fresh authorization, signed before the
timing by the ``x402`` package's own client (an agent signs ahead of its call too); the server
decodes it, runs the package's ``exact`` checks on the node (signature, amount, recipient,
window, a simulation of the token's transfer), records it once, predicts and queues the
settlement. The figure is the ratio of the medians: target <= 1.5.

The second figure is the settlement throughput: 200 paid calls (50 with ``--quick``) queue
their settlements, then the portal's outbox sender (the same code a worker runs, here in the
bench's process) sends them to anvil (automine: a block per transaction) and follows them to
their receipts, and ``payments_finish`` marks them settled and writes their receipts. ``value``
is payments settled per second over that whole drain. The target, >= 50/s, is the sender's
own cost with the chain out of the way (automine): each settlement is an ``eth_estimateGas``,
a signed ``eth_sendRawTransaction`` and a receipt, sent in batches of 50 (``outbox_process``'s
``max_send``) before their receipts are awaited, so a batch per block is what one operator
address settles on a real chain (50 in a 2-second block is 25/s), and the portal's part must
stay well under that block time. ``x402.settled_of_queued`` checks that every queued payment was
settled exactly once, on chain (``AgentPaid`` events) and in the database: == 1.
"""

from __future__ import annotations

import io
import json

from bench._common import case, measure, migrate

TARGET = "<=1.5"
QUICK = {"warmup": 5, "samples": 60, "budget_s": 20.0, "settlements": 50}
FULL = {"warmup": 20, "samples": 400, "budget_s": 120.0, "settlements": 200}
SETTLE_TARGET = ">=50"
PRICE = 1_000
# anvil's published development key #3 (public, never a secret): the market's meter
METER_KEY = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6"


def _world(node):
    from django.conf import settings
    from eth_account import Account
    from sklearn.datasets import load_iris

    from chain import abi
    from chain.models import Deployment, Network
    from chain.testing.market import deploy_env
    from licensing.models import Currency, ModelTokenomics
    from models_hub import services
    from models_hub.choices import Task
    from models_hub.demo_models import serialize, train
    from models_hub.models import PayPerCallOffer
    from portal.choices import ApiScope
    from portal.services import api_key_create, organization_create

    env = deploy_env(node)
    settings.CHAIN_RPC_URLS = {"bench": node.url}
    # the settler's key: anvil's published development key #3 (the market's meter), public
    settings.CHAIN_OPERATOR_KEY = METER_KEY
    network = Network.objects.create(name="bench", chain_id=node.chain_id, confirmation_depth=1)
    for name, address in env.suite.addresses.items():
        Deployment.objects.create(
            network=network,
            contract_name=name,
            address=address,
            deploy_block=0,
            code_hash="0x",
            sources_sha256=abi.load_artifact(name).sources_sha256,
        )
    organization = organization_create(name="Agents Bench", slug="agents")
    estimator, _ = train("iris")
    model = services.model_create(
        organization=organization, name="Iris", task=Task.CLASSIFICATION, listed=True
    )
    ModelTokenomics.objects.create(model=model, chain_model_id="0x" + "11" * 32)
    row = services.version_upload(
        model=model,
        version="1.0.0",
        fileobj=io.BytesIO(serialize(estimator, "joblib")),
        filename="m.joblib",
    )
    version = services.version_validate(version_id=row.pk)
    services.version_publish(version=version)
    tusdc = Currency.objects.create(
        network=network,
        symbol="TUSDC",
        address=env.usdc.address,
        decimals=6,
        eip3009=True,
        eip712_name="Test USD Coin",
        eip712_version="2",
    )
    PayPerCallOffer.objects.create(model=model, network=network, currency=tusdc, price=PRICE)
    from django.contrib.auth import get_user_model

    owner = get_user_model().objects.create_user(username="bench", email="bench@example.com")
    issued = api_key_create(
        organization=organization, owner=owner, name="bench", scopes=[str(ApiScope.PREDICT)]
    )
    agent = Account.create()
    env.send(env.usdc.functions.mint(agent.address, 10**12), env.acct.outsider)
    path = f"/api/models/agents/{model.slug}/versions/1.0.0/predict"
    body = json.dumps({"rows": load_iris().data[:10].tolist()})
    return path, body, {"Authorization": f"Bearer {issued.raw_key}"}, agent


def _signer(agent, required):
    from x402 import x402ClientSync
    from x402.http.utils import encode_payment_signature_header
    from x402.mechanisms.evm.exact.register import register_exact_evm_client
    from x402.mechanisms.evm.signers import EthAccountSigner

    client = register_exact_evm_client(x402ClientSync(), EthAccountSigner(agent))
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
    return lambda: encode_payment_signature_header(client.create_payment_payload(required))


def _settlements(count: int, paid, check) -> list[dict]:
    """Queue ``count`` paid calls' settlements, then time the outbox draining them."""
    import time

    from chain.choices import TX_OPEN
    from chain.models import Network, OutboundTransaction
    from chain.sender import outbox_process
    from chain.sync import sync_network
    from models_hub.choices import PaymentStatus
    from models_hub.models import PaymentAuthorization
    from models_hub.x402.services import payments_finish

    network = Network.objects.get(name="bench")

    def drain() -> int:
        ticks = 0
        while OutboundTransaction.objects.filter(network=network, status__in=TX_OPEN).exists():
            outbox_process(network=network)
            ticks += 1
        payments_finish()
        return ticks

    drain()  # what the latency case queued: settled first, not timed
    PaymentAuthorization.objects.all().delete()
    for _ in range(count):
        check("paid", paid())
    queued = PaymentAuthorization.objects.filter(status=PaymentStatus.SETTLING).count()
    started = time.perf_counter()
    ticks = drain()
    seconds = time.perf_counter() - started
    settled = PaymentAuthorization.objects.filter(status=PaymentStatus.SETTLED).count()
    sync_network(network=network)
    from licensing.models import AgentPayment

    receipts = set(PaymentAuthorization.objects.values_list("receipt_id", flat=True))
    on_chain = AgentPayment.objects.filter(receipt_id__in=receipts).count()
    return [
        case(
            "x402.settlements_per_second",
            value=settled / seconds,
            target=SETTLE_TARGET,
            detail={
                "queued": queued,
                "settled": settled,
                "seconds": round(seconds, 3),
                "sender_ticks": ticks,
                "chain": "anvil automine",
            },
        ),
        case(
            "x402.settled_of_queued",
            ratio=min(settled, on_chain) / queued if queued else 0.0,
            target="==1",
            detail={"queued": queued, "settled": settled, "agent_paid_events": on_chain},
        ),
    ]


def run(quick: bool) -> list[dict]:
    import logging
    import warnings

    migrate()
    from django.conf import settings
    from django.test import Client
    from x402.http.utils import decode_payment_required_header

    from chain.testing.devnode import AnvilNode

    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    logging.getLogger("x402").setLevel(logging.WARNING)
    params = QUICK if quick else FULL
    node = AnvilNode()
    try:
        path, body, key_headers, agent = _world(node)
        settings.X402_AWAIT_SETTLEMENT = False  # verification only: the settlement is queued
        settings.DEBUG = False
        client = Client(HTTP_HOST="localhost")
        challenge = client.post(path, body, content_type="application/json")
        if challenge.status_code != 402:
            raise RuntimeError(f"no 402: {challenge.status_code} {challenge.content!r}")
        required = decode_payment_required_header(challenge["PAYMENT-REQUIRED"])
        sign = _signer(agent, required)
        count = params["samples"] + params["warmup"] + 50 + params["settlements"]
        headers = [sign() for _ in range(count)]  # signed ahead, as an agent signs

        def paid():
            header = headers.pop()
            return client.post(
                path, body, content_type="application/json", headers={"PAYMENT-SIGNATURE": header}
            )

        def keyed():
            return client.post(path, body, content_type="application/json", headers=key_headers)

        def check(name, response):
            if response.status_code != 200:
                raise RuntimeError(f"{name}: {response.status_code} {response.content!r}")

        timings = measure(
            {"paid": paid, "api_key": keyed},
            samples=params["samples"],
            warmup=params["warmup"],
            budget_s=params["budget_s"],
            check=check,
        )
        throughput = _settlements(params["settlements"], paid, check)
    finally:
        node.stop()
    paid_t, key_t = timings["paid"], timings["api_key"]
    return [
        *throughput,
        case(
            "x402.paid_vs_api_key_p50",
            ratio=paid_t.median_ms / key_t.median_ms,
            target=TARGET,
            detail={
                "paid_p50_ms": round(paid_t.median_ms, 3),
                "api_key_p50_ms": round(key_t.median_ms, 3),
                "samples": paid_t.count,
                "rows": 10,
                "settlement": "queued, not awaited",
            },
        ),
    ]
