"""Chain sync: backfill speed, ``eth_getLogs`` economy under provider limits, idempotency.

Starts its own anvil node and a throwaway SQLite database, deploys the suite with anvil's
node-signed dev accounts, sets up one model (a 30-day transferable license and a credits offer,
both sold for the native coin; a 2.5% platform fee, two payees, three share holders), then
generates purchases from seven buyers: each purchase emits six events (``Purchased`` and
``TransferSingle`` from the token; ``PaymentSplit`` and three ``Credited`` from the vault).
Automine is off while they are sent: a few transactions go out in one JSON-RPC batch, are mined
into one block with ``evm_mine``, then ``anvil_mine`` adds a random run of empty blocks, so the
logs are spread sparsely over thousands of blocks. The chain does not move afterwards.

Cases:

- ``backfill_ratio``: events per second of a full backfill through the real
  ``chain.sync.sync_network`` into the database (licensing projections included; every indexed
  table emptied before each run) ÷ events per second of a baseline that fetches the same logs
  from the same node (one ``eth_getLogs`` per contract over the whole range) and decodes each
  with ``chain.sync.decode_log`` (eth_abi) in one loop. Interleaved runs, medians.
- ``getlogs_call_ratio``: ``eth_getLogs`` calls a backfill makes through a
  ``LimitingRpcProxy`` (block-range and result-count limits, 20% bogus range hints) ÷
  ``ideal_get_logs_calls`` summed over our contracts. ``detail.dense`` repeats it with a
  result cap of 50, which the busiest blocks nearly fill on their own.
- ``idempotent_rows``: rows (``IndexedEvent`` and every licensing projection table) after a
  backfill, a second sync and a replay from block 0 ÷ rows after the backfill alone.

The sync runs with ``DEBUG`` off (as in production): Django's debug cursor would otherwise log,
and on SQLite re-quote, every query. A sync that indexes a different number of events than the
baseline decodes is an error, not a slow sample.
"""

from __future__ import annotations

import hashlib
import random
import statistics
import sys
import time
from collections import Counter
from typing import Any

from bench._common import case, deploy_bench_suite, migrate, setup_django

BACKFILL_TARGET = ">=0.5"
GETLOGS_TARGET = "<=1.5"
IDEMPOTENT_TARGET = "==1"

DAY = 86_400
PRICE = 10**16  # the license, in wei
CREDIT_PRICE = 10**12  # one credit, in wei
PAYEE_BPS = [1000, 500]
HOLDER_SHARES = [5000, 3000, 2000]
LICENSE_ID, CREDITS_ID, SHARES_ID = 1, 2, 3
EVENTS_PER_PURCHASE = 6
PURCHASE_GAS = 400_000
NETWORK_NAME = "bench-anvil"
CONFIRMATION_DEPTH = 12

QUICK = {
    "purchases": 150,
    "per_block": (1, 8),  # purchases mined together in one block
    "gap": (0, 180),  # empty blocks mined after each block with purchases
    "runs": 3,
    "max_block_range": 500,
    # A result cap four times the size of the busiest block's logs of one contract (about 8
    # bursts of purchases per call); "dense" is reported beside it: a cap of 50 against blocks
    # of up to 32 logs, i.e. about two bursts per call, where the density of logs says little
    # about the next range (see the README).
    "max_results": 200,
    "dense_max_results": 50,
    "seed": 5,
}
FULL = {**QUICK, "purchases": 1500, "gap": (0, 40)}


def _log(message: str) -> None:
    print(f"chain_sync: {message}", file=sys.stderr, flush=True)


# --- the chain ----------------------------------------------------------------------------------


class _Rpc:
    """Raw JSON-RPC to the node (batches included), for sending many transactions fast."""

    def __init__(self, url: str):
        import requests

        self.url = url
        self.session = requests.Session()
        self._ids = iter(range(1, 2**62))

    def call(self, method: str, params: list | None = None) -> Any:
        return self.batch([(method, params or [])])[0]

    def batch(self, calls: list[tuple[str, list]]) -> list[Any]:
        if not calls:
            return []
        requests_ = [
            {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
            for method, params in calls
        ]
        response = self.session.post(self.url, json=requests_, timeout=60)
        response.raise_for_status()
        answers = {answer["id"]: answer for answer in response.json()}
        results = []
        for request in requests_:
            answer = answers[request["id"]]
            if "error" in answer:
                raise RuntimeError(f"{request['method']}: {answer['error']}")
            results.append(answer["result"])
        return results

    def close(self) -> None:
        self.session.close()


def _address(label: str) -> str:
    from web3 import Web3

    return Web3.to_checksum_address(Web3.keccak(text=f"chain-sync-bench-{label}")[12:])


def build_market(w3, rpc: _Rpc, params: dict) -> dict[str, Any]:
    """Deploy and configure the model, then generate the purchases; return what the cases need."""
    from web3 import Web3

    from chain.choices import OfferKind
    from chain.testing import contracts

    dev = w3.eth.accounts
    admin, platform, publisher, buyers = dev[0], dev[1], dev[2], dev[3:10]
    suite = deploy_bench_suite(w3, admin=admin, platform=platform, publisher=publisher)
    deploy_blocks = {
        name: contract.deploy_receipt["blockNumber"] for name, contract in suite.by_name.items()
    }
    token = suite.token
    model = Web3.keccak(text="bench/chain-sync")
    terms = Web3.keccak(text="terms v1")
    payees = [_address(f"payee-{i}") for i in range(len(PAYEE_BPS))]
    holders = [_address(f"holder-{i}") for i in range(len(HOLDER_SHARES))]
    contracts.send(
        suite.registry.functions.registerModel(model, publisher, "ipfs://m"), sender=publisher
    )
    contracts.send(suite.vault.functions.configurePayees(model, payees, PAYEE_BPS), sender=admin)
    offer = contracts.offer_config
    offers = {
        LICENSE_ID: offer(
            model, OfferKind.LICENSE, PRICE, terms=terms, duration=30 * DAY, transferable=True
        ),
        CREDITS_ID: offer(model, OfferKind.CREDITS, CREDIT_PRICE, terms=terms, transferable=True),
        SHARES_ID: offer(model, OfferKind.SHARES, 0, terms=terms, transferable=True),
    }
    for offer_id, config in offers.items():
        contracts.send(token.functions.configureOffer(offer_id, config), sender=publisher)
    contracts.send(token.functions.mintShares(SHARES_ID, holders, HOLDER_SHARES), sender=publisher)

    started = time.perf_counter()
    tx_hashes = _purchases(rpc, token, buyers, params)
    head = w3.eth.block_number
    _log(f"{len(tx_hashes)} purchases up to block {head} in {time.perf_counter() - started:.1f}s")
    return {
        "suite": suite,
        "deploy_blocks": deploy_blocks,
        "head": head,
        "purchases": len(tx_hashes),
        "buyers": len(buyers),
    }


def _purchases(rpc: _Rpc, token, buyers: list[str], params: dict) -> list[str]:
    """Send ``params["purchases"]`` purchases, a few per block, empty blocks in between."""
    rng = random.Random(params["seed"])  # noqa: S311 - a reproducible workload, not secrets
    nonces = {
        buyer: int(nonce, 16)
        for buyer, nonce in zip(
            buyers,
            rpc.batch([("eth_getTransactionCount", [buyer, "pending"]) for buyer in buyers]),
            strict=True,
        )
    }
    tip = 10**9
    max_fee = 100 * 10**9
    rpc.call("evm_setAutomine", [False])
    hashes: list[str] = []
    try:
        remaining = params["purchases"]
        while remaining:
            count = min(remaining, rng.randint(*params["per_block"]))
            calls = []
            for _ in range(count):
                buyer = rng.choice(buyers)
                if rng.random() < 0.7:
                    offer, amount, price = LICENSE_ID, 1, PRICE
                else:
                    offer, amount, price = CREDITS_ID, rng.randint(10, 500), CREDIT_PRICE
                tx = {
                    "from": buyer,
                    "to": token.address,
                    "data": token.encode_abi("purchase", args=[offer, amount, price]),
                    "value": hex(price * amount),
                    "gas": hex(PURCHASE_GAS),
                    "maxFeePerGas": hex(max_fee),
                    "maxPriorityFeePerGas": hex(tip),
                    "nonce": hex(nonces[buyer]),
                }
                nonces[buyer] += 1
                calls.append(("eth_sendTransaction", [tx]))
            hashes += rpc.batch(calls)
            rpc.call("evm_mine")
            gap = rng.randint(*params["gap"])
            if gap:
                rpc.call("anvil_mine", [hex(gap), hex(12)])  # 12 s apart, like mainnet
            remaining -= count
    finally:
        rpc.call("evm_setAutomine", [True])
    pending = int(rpc.call("txpool_status")["pending"], 16)
    if pending:
        raise RuntimeError(f"{pending} purchases left unmined in the pool")
    receipts = []
    for start in range(0, len(hashes), 200):
        chunk = hashes[start : start + 200]
        receipts += rpc.batch([("eth_getTransactionReceipt", [h]) for h in chunk])
    failed = [r["transactionHash"] for r in receipts if r is None or r["status"] != "0x1"]
    if failed:
        raise RuntimeError(f"{len(failed)} purchases failed, e.g. {failed[0]}")
    return hashes


def fetch_logs(w3, market: dict) -> dict[str, list[dict]]:
    """Every log of each contract, one ``eth_getLogs`` each, straight from the node."""
    logs = {}
    for name, address in market["suite"].addresses.items():
        params = {
            "address": address,
            "fromBlock": hex(market["deploy_blocks"][name]),
            "toBlock": hex(market["head"]),
        }
        response = w3.provider.make_request("eth_getLogs", [params])
        if "error" in response:
            raise RuntimeError(f"eth_getLogs {name}: {response['error']}")
        logs[name] = response["result"]
    return logs


def baseline(w3, market: dict) -> int:
    """Fetch and decode every log in one loop (what the sync is measured against)."""
    from chain.sync import decode_log

    decoded = 0
    for name, logs in fetch_logs(w3, market).items():
        for log in logs:
            if decode_log(name, log) is not None:
                decoded += 1
    return decoded


def _raw_decoders(names) -> dict[tuple[str, bytes], tuple]:
    """(contract, topic0) -> (name, indexed (arg, type)s, data arg names, data types)."""
    from eth_utils import event_abi_to_log_topic

    from chain.abi import load_artifact

    decoders = {}
    for name in names:
        for item in load_artifact(name).abi:
            if item.get("type") != "event" or item.get("anonymous"):
                continue
            indexed = [(arg["name"], arg["type"]) for arg in item["inputs"] if arg["indexed"]]
            data = [arg for arg in item["inputs"] if not arg["indexed"]]
            topic = bytes(event_abi_to_log_topic(item))
            decoders[name, topic] = (
                item["name"],
                indexed,
                [arg["name"] for arg in data],
                [arg["type"] for arg in data],
            )
    return decoders


def raw_baseline(w3, market: dict) -> int:
    """The same, decoding with eth_abi directly (types looked up once per event kind)."""
    from eth_abi import decode

    decoders = _raw_decoders(market["suite"].addresses)
    decoded = 0
    for name, logs in fetch_logs(w3, market).items():
        for log in logs:
            topics = log["topics"]
            found = decoders.get((name, bytes.fromhex(topics[0][2:]))) if topics else None
            if found is None:
                continue
            event, indexed, data_names, data_types = found
            args = {
                arg: decode([kind], bytes.fromhex(topic[2:]))[0]
                for (arg, kind), topic in zip(indexed, topics[1:], strict=True)
            }
            values = decode(data_types, bytes.fromhex(log["data"][2:]))
            args.update(zip(data_names, values, strict=True))
            if event and args is not None:  # what decode_log returns: (name, args)
                decoded += 1
    return decoded


# --- the database -------------------------------------------------------------------------------


def projection_models() -> list:
    """The licensing tables the sync writes: every licensing model tied to a network, except the
    reconciliation's mismatches."""
    from django.apps import apps

    from chain.models import Network
    from licensing.models import Mismatch

    return [
        model
        for model in apps.get_app_config("licensing").get_models()
        if model is not Mismatch
        and any(f.is_relation and f.related_model is Network for f in model._meta.fields)
    ]


def register_network(market: dict, chain_id: int):
    from chain import abi
    from chain.models import Deployment, Network

    network = Network.objects.create(
        name=NETWORK_NAME, chain_id=chain_id, confirmation_depth=CONFIRMATION_DEPTH
    )
    for name, address in market["suite"].addresses.items():
        Deployment.objects.create(
            network=network,
            contract_name=name,
            address=address,
            deploy_block=market["deploy_blocks"][name],
            code_hash="0x",
            sources_sha256=abi.load_artifact(name).sources_sha256,
        )
    return network


def reset_index() -> None:
    """Forget everything indexed: projections, events, cursors, kept hashes, reorgs."""
    from chain.models import BlockRecord, IndexedEvent, Reorg, SyncCursor
    from licensing.models import CreditLedgerEntry, CreditReservation

    # the credit ledger's lines protect their accounts, reservations and each other (reversals):
    # gone first, without the collector, which refuses protected rows even among the deleted
    for model in (CreditLedgerEntry, CreditReservation):
        model.objects.all()._raw_delete(model.objects.db)
    for model in projection_models():
        model.objects.all().delete()
    for model in (IndexedEvent, SyncCursor, BlockRecord, Reorg):
        model.objects.all().delete()


def row_counts() -> dict[str, int]:
    from chain.models import IndexedEvent

    models = [IndexedEvent, *projection_models()]
    return {model.__name__: model.objects.count() for model in models}


def content_digest() -> str:
    """A digest of every row of the counted tables (to see values, not only counts, repeat)."""
    from chain.models import IndexedEvent

    digest = hashlib.sha256()
    for model in [IndexedEvent, *projection_models()]:
        for row in model.objects.order_by("pk").values_list():
            digest.update(repr(row).encode())
    return digest.hexdigest()


def timed_sync(network, **kwargs):
    """``sync_network`` with DEBUG off; (stats, seconds)."""
    from django.test import override_settings

    from chain.sync import sync_network

    with override_settings(DEBUG=False):
        started = time.perf_counter()
        stats = sync_network(network=network, **kwargs)
        elapsed = time.perf_counter() - started
    return stats, elapsed


def _check_indexed(stats, expected: int, label: str) -> None:
    from chain.models import IndexedEvent

    stored = IndexedEvent.objects.count()
    if stats.events != expected or stored != expected:
        raise RuntimeError(
            f"{label}: the sync indexed {stats.events} events ({stored} stored), "
            f"the baseline decoded {expected}"
        )


# --- the cases ----------------------------------------------------------------------------------


def _backfill(w3, network, market: dict, runs: int) -> dict[str, Any]:
    baseline(w3, market)  # warm-up: connection, ABI indexes, codec caches
    raw_baseline(w3, market)
    base_s, raw_s, sync_s, stats = [], [], [], None
    expected = 0
    for run in range(runs):
        started = time.perf_counter()
        expected = baseline(w3, market)
        base_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        raw = raw_baseline(w3, market)
        raw_s.append(time.perf_counter() - started)
        if raw != expected:
            raise RuntimeError(f"eth_abi decoded {raw} events, decode_log {expected}")
        reset_index()
        stats, elapsed = timed_sync(network)
        sync_s.append(elapsed)
        _check_indexed(stats, expected, f"backfill run {run + 1}")
        _log(
            f"backfill {run + 1}/{runs}: sync {elapsed:.2f}s, baseline {base_s[-1]:.3f}s "
            f"(raw eth_abi {raw_s[-1]:.3f}s)"
        )
    base_rate = expected / statistics.median(base_s)
    raw_rate = expected / statistics.median(raw_s)
    sync_rate = expected / statistics.median(sync_s)
    return {
        "ratio": sync_rate / base_rate,
        "events": expected,
        "get_logs_calls": stats.get_logs_calls,
        "sync_s": [round(s, 3) for s in sync_s],
        "baseline_s": [round(s, 4) for s in base_s],
        "sync_median_s": round(statistics.median(sync_s), 3),
        "baseline_median_s": round(statistics.median(base_s), 4),
        "sync_events_per_s": round(sync_rate, 1),
        "baseline_events_per_s": round(base_rate, 1),
        "raw_eth_abi": {
            "note": "not the figure: the same fetch, decoded with eth_abi.decode directly "
            "(no web3 get_event_data, no checksummed addresses), to show what decode_log costs",
            "median_s": round(statistics.median(raw_s), 4),
            "events_per_s": round(raw_rate, 1),
            "sync_ratio": round(sync_rate / raw_rate, 3),
        },
    }


def _idempotent(network, expected: int) -> dict[str, Any]:
    """After the last backfill: count, sync again, replay from block 0, count again."""
    once = row_counts()
    once_digest = content_digest()
    again, _ = timed_sync(network)
    replay, _ = timed_sync(network, from_block=0)
    _check_indexed(replay, expected, "replay from block 0")
    twice = row_counts()
    # The ratio furthest from 1 over the tables: exactly 1 only when every table matches.
    ratios = {
        name: (twice[name] / once[name] if once[name] else float(twice[name] + 1)) for name in once
    }
    worst = max(ratios.values(), key=lambda r: abs(r - 1))
    return {
        "ratio": worst,
        "rows_once": once,
        "rows_twice": twice,
        "total_once": sum(once.values()),
        "total_twice": sum(twice.values()),
        "same_content": content_digest() == once_digest,
        "second_sync_new_events": again.new_events,
        "replay_events": replay.events,
        "replay_new_events": replay.new_events,
    }


def _getlogs(
    network, node_url: str, market: dict, logs: dict, params: dict, limit_m: int
) -> dict[str, Any]:
    from django.test import override_settings

    from chain.testing.rpcproxy import LimitingRpcProxy, ideal_get_logs_calls

    limit_r = params["max_block_range"]
    blocks = {name: [int(log["blockNumber"], 16) for log in items] for name, items in logs.items()}
    busiest = max(
        (Counter(items).most_common(1)[0][1] for items in blocks.values() if items), default=0
    )
    if busiest > limit_m:
        raise RuntimeError(f"a block holds {busiest} logs of one contract, over the cap {limit_m}")
    head = market["head"]
    ideal = {
        name: ideal_get_logs_calls(
            numbers,
            market["deploy_blocks"][name],
            head,
            max_block_range=limit_r,
            max_results=limit_m,
        )
        for name, numbers in blocks.items()
    }
    expected = sum(len(items) for items in logs.values())
    reset_index()
    proxy = LimitingRpcProxy(
        node_url,
        max_block_range=limit_r,
        max_results=limit_m,
        bogus_hint_rate=0.2,
        seed=params["seed"],
    ).start()
    try:
        with override_settings(CHAIN_RPC_URLS={NETWORK_NAME: proxy.url}):
            stats, elapsed = timed_sync(network)
        counters = proxy.counters()
    finally:
        proxy.stop()
    _check_indexed(stats, expected, "sync through the proxy")
    if stats.head != head:
        raise RuntimeError(f"the chain moved: head {stats.head}, expected {head}")
    calls = counters["get_logs_calls"]
    _log(
        f"through the proxy (cap {limit_m}): {calls} eth_getLogs calls "
        f"(ideal {sum(ideal.values())})"
    )
    return {
        "ratio": calls / sum(ideal.values()),
        "calls": calls,
        "sync_stats_calls": stats.get_logs_calls,
        "ideal": sum(ideal.values()),
        "ideal_by_contract": ideal,
        "refused": counters["get_logs_errors"],
        "range_errors": counters["range_errors"],
        "result_errors": counters["result_errors"],
        "hint_kinds": counters["hint_kinds"],
        "max_block_range": limit_r,
        "max_results": limit_m,
        "bogus_hint_rate": 0.2,
        "busiest_block_logs": busiest,
        "sync_s": round(elapsed, 3),
    }


def run(quick: bool) -> list[dict]:
    setup_django()
    migrate()

    from django.conf import settings
    from django.test import override_settings

    from chain.client import web3_for
    from chain.testing.devnode import AnvilNode

    params = QUICK if quick else FULL
    node = AnvilNode()  # answers its own random chain id, checked before anything is sent
    rpc = _Rpc(node.url)
    try:
        with override_settings(CHAIN_RPC_URLS={NETWORK_NAME: node.url}):
            w3 = web3_for(node.url)  # the very client sync_network uses for this URL
            market = build_market(w3, rpc, params)
            logs = fetch_logs(w3, market)
            log_count = sum(len(items) for items in logs.values())
            network = register_network(market, node.chain_id)
            backfill = _backfill(w3, network, market, params["runs"])
            if backfill["events"] != log_count:
                raise RuntimeError(f"{log_count} logs but {backfill['events']} decoded")
            idempotent = _idempotent(network, backfill["events"])
            getlogs = _getlogs(network, node.url, market, logs, params, params["max_results"])
            dense = _getlogs(network, node.url, market, logs, params, params["dense_max_results"])
    finally:
        rpc.close()
        node.stop()

    setup = {
        "mode": "quick" if quick else "full",
        "purchases": market["purchases"],
        "buyers": market["buyers"],
        "events": backfill["events"],
        "events_by_contract": {name: len(items) for name, items in logs.items()},
        "blocks": market["head"] + 1,
        "blocks_with_logs": len({log["blockNumber"] for items in logs.values() for log in items}),
        "purchases_per_block": list(params["per_block"]),
        "empty_blocks_between": list(params["gap"]),
        "confirmation_depth": CONFIRMATION_DEPTH,
        "sync_spans": {
            "initial": settings.CHAIN_SYNC_INITIAL_SPAN,
            "max": settings.CHAIN_SYNC_MAX_SPAN,
            "sparse": settings.CHAIN_SYNC_SPARSE,
        },
        "chain": "anvil (chain.testing.devnode.AnvilNode)",
        "database": "sqlite (throwaway), DEBUG off during syncs",
    }
    backfill_ratio = backfill.pop("ratio")
    return [
        case(
            "chain_sync.backfill_ratio",
            ratio=backfill_ratio,
            target=BACKFILL_TARGET,
            detail={
                "meaning": "events/s of sync_network into the database (projections included) "
                "/ events/s of fetching and decoding the same logs in one loop",
                "runs": params["runs"],
                **backfill,
                **setup,
            },
        ),
        case(
            "chain_sync.getlogs_call_ratio",
            ratio=getlogs.pop("ratio"),
            target=GETLOGS_TARGET,
            detail={
                "meaning": "eth_getLogs calls through LimitingRpcProxy / ideal_get_logs_calls "
                "summed over our contracts",
                **getlogs,
                "dense": {
                    "note": "not the figure: the same sync with a result cap of 50, against "
                    "blocks of up to 32 logs of one contract (about two bursts per call)",
                    **dense,
                },
                **setup,
            },
        ),
        case(
            "chain_sync.idempotent_rows",
            ratio=idempotent.pop("ratio"),
            target=IDEMPOTENT_TARGET,
            detail={
                "meaning": "rows (IndexedEvent + licensing projections) after a backfill, a "
                "second sync and a replay from block 0 / after the backfill (the table furthest "
                "from 1)",
                **idempotent,
                **setup,
            },
        ),
    ]
