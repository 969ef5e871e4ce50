"""The limiting JSON-RPC proxy, against a real anvil node holding a few dozen Transfer logs."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from web3 import Web3
from web3.exceptions import Web3RPCError
from web3.providers import HTTPProvider

from chain.testing import contracts
from chain.testing.required import require_service
from chain.testing.rpcproxy import (
    BOGUS_HINT_KINDS,
    INTERNAL_ERROR,
    INVALID_PARAMS,
    LIMIT_EXCEEDED,
    RANGE_ERROR_STYLES,
    LimitingRpcProxy,
    ideal_get_logs_calls,
)

pytestmark = pytest.mark.requires_chain

# What the sync engine's parser must understand (MESSAGE_FORMATS in chain/testing/rpcproxy.py).
RESULTS_RE = re.compile(
    r"^query returned more than (?P<limit>\d+) results"
    r"(?:\. Try with this block range \[0x(?P<from>[0-9a-fA-F]+), 0x(?P<to>[0-9a-fA-F]+)\]\.)?$"
)
RANGE_RES = {
    "alchemy": re.compile(
        r"^Log response size exceeded\. .*up to a (?P<limit>\d+) block range.* "
        r"this block range should work: \[0x(?P<from>[0-9a-f]+), 0x(?P<to>[0-9a-f]+)\]$"
    ),
    "max_range": re.compile(r"^exceed maximum block range: (?P<limit>\d+)$"),
    "too_wide": re.compile(r"^block range is too wide$"),
    "quicknode": re.compile(r"^eth_getLogs is limited to a (?P<limit>[\d,]+) range$"),
}


@dataclass(frozen=True)
class LogChain:
    url: str
    w3: Web3
    token: str  # the TestToken's address
    first: int  # the first block with a log
    last: int  # the head once the logs are written
    busy_block: int  # the block holding four logs
    chain_id: int  # the node's own, random


def rpc(url: str, method: str, params: list[Any] | None = None, request_id: int = 1) -> Any:
    """One JSON-RPC call; the decoded answer (raises on an HTTP error)."""
    body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or []}
    response = requests.post(url, json=body, timeout=30)
    response.raise_for_status()
    return response.json()


def post_raw(url: str, body: bytes) -> requests.Response:
    return requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=30)


def get_logs(url: str, from_block: Any, to_block: Any, address: str | None = None) -> Any:
    log_filter: dict[str, Any] = {"fromBlock": from_block, "toBlock": to_block}
    if address is not None:
        log_filter["address"] = address
    return rpc(url, "eth_getLogs", [log_filter])


@pytest.fixture(scope="module")
def log_chain() -> Iterator[LogChain]:
    """A private anvil node with TestToken Transfer logs spread over ~55 blocks.

    30 mints in blocks of their own, one block with four mints, ten empty blocks, then 12 more
    mints: 46 logs.
    """
    from chain.testing.devnode import ANVIL, AnvilNode

    require_service(ANVIL.exists(), "anvil is not installed (npm ci installs @foundry-rs/anvil)")
    node = AnvilNode()
    try:
        w3 = Web3(HTTPProvider(node.url, request_kwargs={"timeout": 30}))
        owner, *holders = w3.eth.accounts[:6]
        token = contracts.deploy_contract(
            w3, contracts.TEST_TOKEN, "Test USD", "TUSD", 6, sender=owner
        )
        first = None
        for i in range(30):
            receipt = contracts.send(token.functions.mint(holders[i % 5], 1000 + i), sender=owner)
            first = first or receipt["blockNumber"]
        w3.provider.make_request("evm_setAutomine", [False])
        hashes = [token.functions.mint(holders[i], 7).transact({"from": owner}) for i in range(4)]
        w3.provider.make_request("evm_mine", [])
        w3.provider.make_request("evm_setAutomine", [True])
        busy = {w3.eth.get_transaction_receipt(h)["blockNumber"] for h in hashes}
        assert len(busy) == 1
        for _ in range(10):
            w3.provider.make_request("evm_mine", [])
        for i in range(12):
            contracts.send(token.functions.mint(holders[i % 5], 5000 + i), sender=owner)
        last = w3.eth.block_number
        yield LogChain(node.url, w3, token.address, first, last, busy.pop(), node.chain_id)
    finally:
        node.stop()


@pytest.fixture
def proxy_factory(log_chain) -> Iterator[Any]:
    proxies: list[LimitingRpcProxy] = []

    def make(**limits: Any) -> LimitingRpcProxy:
        limits.setdefault("max_block_range", None)
        limits.setdefault("max_results", None)
        proxy = LimitingRpcProxy(log_chain.url, **limits).start()
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.stop()


def test_the_fixture_has_logs(log_chain):
    logs = get_logs(log_chain.url, hex(0), hex(log_chain.last))["result"]
    assert len(logs) == 46
    busy = [log for log in logs if int(log["blockNumber"], 16) == log_chain.busy_block]
    assert len(busy) == 4


# --- pass-through ---------------------------------------------------------------------------
def test_ordinary_calls_pass_through_verbatim(log_chain, proxy_factory):
    proxy = proxy_factory(max_block_range=5, max_results=2)
    single = [
        {"jsonrpc": "2.0", "id": 7, "method": "eth_chainId", "params": []},
        {"jsonrpc": "2.0", "id": "x", "method": "eth_blockNumber", "params": []},
        {"jsonrpc": "2.0", "id": 3, "method": "eth_getBalance", "params": ["0x" + "00" * 20]},
        {"jsonrpc": "2.0", "id": 4, "method": "no_such_method", "params": []},
    ]
    batch = [
        *single[:2],
        {"jsonrpc": "2.0", "id": 9, "method": "eth_getBlockByNumber", "params": ["0x1", False]},
    ]
    for request in [*single, batch]:
        body = json.dumps(request).encode()
        direct, proxied = post_raw(log_chain.url, body), post_raw(proxy.url, body)
        assert proxied.status_code == direct.status_code
        assert proxied.content == direct.content
    assert rpc(proxy.url, "eth_chainId")["result"] == hex(log_chain.chain_id)

    w3 = Web3(HTTPProvider(proxy.url))
    assert w3.eth.chain_id == log_chain.chain_id
    assert w3.eth.block_number == log_chain.last
    assert w3.eth.get_block(log_chain.busy_block)["number"] == log_chain.busy_block
    assert proxy.calls == 4 + 3 + 1 + 3
    assert proxy.get_logs_calls == 0


def test_a_query_within_both_limits_returns_exactly_what_anvil_returns(log_chain, proxy_factory):
    proxy = proxy_factory(max_block_range=20, max_results=10)
    start = log_chain.busy_block - 3  # three single logs, four in the busy block, ten empty
    log_filter = {"address": log_chain.token, "fromBlock": hex(start), "toBlock": hex(start + 13)}
    request = {"jsonrpc": "2.0", "id": 42, "method": "eth_getLogs", "params": [log_filter]}
    body = json.dumps(request).encode()
    direct, proxied = post_raw(log_chain.url, body), post_raw(proxy.url, body)
    assert proxied.status_code == 200
    assert proxied.content == direct.content
    logs = proxied.json()["result"]
    assert len(logs) == 3 + 4 == proxy.logs_served
    assert proxy.get_logs_ok == 1
    assert proxy.get_logs_errors == 0

    # through web3 as well, with the same decoding as the node's own answer
    w3 = Web3(HTTPProvider(proxy.url))
    log_filter = {"address": log_chain.token, "fromBlock": start, "toBlock": start + 13}
    assert w3.eth.get_logs(log_filter) == log_chain.w3.eth.get_logs(log_filter)


def test_tags_are_resolved_and_a_block_hash_filter_passes(log_chain, proxy_factory):
    proxy = proxy_factory(max_block_range=10, max_results=0)
    answer = get_logs(proxy.url, "earliest", "latest")
    assert answer["error"]["code"] in (LIMIT_EXCEEDED, INVALID_PARAMS)
    assert proxy.range_errors == 1

    # toBlock left out means "latest"; max_results=0 refuses any log, so ask an empty range
    head = log_chain.last
    assert rpc(proxy.url, "eth_getLogs", [{"fromBlock": hex(head + 1)}]) == rpc(
        log_chain.url, "eth_getLogs", [{"fromBlock": hex(head + 1)}]
    )
    empty_blocks = [hex(log_chain.busy_block + 1), hex(log_chain.busy_block + 10)]
    assert get_logs(proxy.url, *empty_blocks) == {"jsonrpc": "2.0", "id": 1, "result": []}
    assert get_logs(proxy.url, hex(head - 20), "latest")["error"]["code"] in (
        LIMIT_EXCEEDED,
        INVALID_PARAMS,
    )
    assert get_logs(proxy.url, hex(head - 2), "latest")["error"]["code"] == LIMIT_EXCEEDED

    block_hash = log_chain.w3.eth.get_block(log_chain.busy_block)["hash"].to_0x_hex()
    by_hash = rpc(proxy.url, "eth_getLogs", [{"blockHash": block_hash}])
    assert by_hash == rpc(log_chain.url, "eth_getLogs", [{"blockHash": block_hash}])
    assert len(by_hash["result"]) == 4

    # a block parameter the proxy cannot read is the node's to refuse, in the node's words
    bad = [{"fromBlock": "banana", "toBlock": "latest"}]
    assert rpc(proxy.url, "eth_getLogs", bad) == rpc(log_chain.url, "eth_getLogs", bad)


# --- the range limit ---------------------------------------------------------------------------
def test_a_too_wide_range_is_refused_in_rotating_provider_styles(log_chain, proxy_factory):
    proxy = proxy_factory(max_block_range=10, max_results=None, seed=0)
    seen = []
    for _ in range(8):
        error = get_logs(proxy.url, hex(log_chain.first), hex(log_chain.first + 10))["error"]
        style = next(name for name, regex in RANGE_RES.items() if regex.match(error["message"]))
        seen.append(style)
        match = RANGE_RES[style].match(error["message"])
        expected_code = LIMIT_EXCEEDED if style == "max_range" else INVALID_PARAMS
        assert error["code"] == expected_code
        if "limit" in match.groupdict():
            assert int(match["limit"].replace(",", "")) == 10
        if style == "alchemy":
            hint = (int(match["from"], 16), int(match["to"], 16))
            assert hint == (log_chain.first, log_chain.first + 9)
    assert seen == list(RANGE_ERROR_STYLES) * 2  # seed 0 starts with the first style
    assert proxy.range_errors == proxy.get_logs_errors == 8

    # exactly the limit is fine
    answer = get_logs(proxy.url, hex(log_chain.first), hex(log_chain.first + 9))
    assert len(answer["result"]) == 10

    # the rotation is deterministic by seed; a subset of styles may be chosen
    other = proxy_factory(max_block_range=10, max_results=None, seed=1)
    error = get_logs(other.url, hex(0), hex(100))["error"]
    assert RANGE_RES[RANGE_ERROR_STYLES[1]].match(error["message"])
    only = proxy_factory(max_block_range=10, max_results=None, range_error_styles=["quicknode"])
    for _ in range(2):
        message = get_logs(only.url, hex(0), hex(100))["error"]["message"]
        assert message == "eth_getLogs is limited to a 10 range"


def test_web3_surfaces_the_message(log_chain, proxy_factory):
    proxy = proxy_factory(max_block_range=10_000, max_results=3, range_error_styles=["quicknode"])
    w3 = Web3(HTTPProvider(proxy.url))
    with pytest.raises(Web3RPCError) as info:
        w3.eth.get_logs({"fromBlock": 0, "toBlock": 20_000})
    assert info.value.rpc_response["error"]["message"] == "eth_getLogs is limited to a 10,000 range"
    with pytest.raises(Web3RPCError) as info:
        w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest"})
    error = info.value.rpc_response["error"]
    assert error["code"] == LIMIT_EXCEEDED
    assert RESULTS_RE.match(error["message"])


# --- the result-count limit --------------------------------------------------------------------
def parse_hint(message: str) -> tuple[int, int] | None:
    match = RESULTS_RE.match(message)
    assert match, message
    if match["from"] is None:
        return None
    return int(match["from"], 16), int(match["to"], 16)


def test_too_many_results_get_a_correct_and_widest_hint(log_chain, proxy_factory):
    proxy = proxy_factory(max_block_range=None, max_results=5)
    start, end = log_chain.first, log_chain.last
    error = get_logs(proxy.url, hex(start), hex(end), log_chain.token)["error"]
    assert error["code"] == LIMIT_EXCEEDED
    assert error["message"] == (
        f"query returned more than 5 results. Try with this block range "
        f"[0x{start:X}, 0x{start + 4:X}]."
    )
    assert error["data"] == {"from": f"0x{start:X}", "to": f"0x{start + 4:X}", "limit": 5}

    # A client that follows every hint fetches every log, in the fewest calls possible.
    direct = get_logs(log_chain.url, hex(start), hex(end), log_chain.token)["result"]
    proxy.reset_counters()
    collected: list[dict[str, Any]] = []
    position = start
    while position <= end:
        upper = end
        while "result" not in (answer := get_logs(proxy.url, hex(position), hex(upper))):
            hint = parse_hint(answer["error"]["message"])
            assert hint is not None
            assert hint[0] == position
            assert position <= hint[1] < upper
            # the hint is the widest range that works: one block more is too many
            within = get_logs(log_chain.url, hex(position), hex(hint[1]))["result"]
            beyond = get_logs(log_chain.url, hex(position), hex(hint[1] + 1))["result"]
            assert len(within) <= 5 < len(beyond)
            upper = hint[1]
        collected += answer["result"]
        position = upper + 1
    assert collected == direct
    blocks = [int(log["blockNumber"], 16) for log in direct]
    ideal = ideal_get_logs_calls(blocks, start, end, max_block_range=None, max_results=5)
    assert proxy.get_logs_ok == ideal == 10  # 46 logs, four of them in one block
    assert proxy.logs_served == 46
    assert proxy.hint_kinds == {"correct": proxy.result_errors}
    assert proxy.get_logs_errors == proxy.result_errors > 0


def test_the_hint_never_splits_a_block(log_chain, proxy_factory):
    proxy = proxy_factory(max_block_range=None, max_results=5)
    busy = log_chain.busy_block
    # blocks busy-2, busy-1 have one log each, busy has four: six logs, the hint stops before busy
    error = get_logs(proxy.url, hex(busy - 2), hex(busy))["error"]
    assert parse_hint(error["message"]) == (busy - 2, busy - 1)
    # a single block over the cap can only be hinted as itself
    tight = proxy_factory(max_block_range=None, max_results=3)
    error = get_logs(tight.url, hex(busy), hex(busy + 5))["error"]
    assert parse_hint(error["message"]) == (busy, busy)


def test_bogus_hints_at_rate_one(log_chain, proxy_factory):
    proxy = proxy_factory(max_block_range=None, max_results=5, bogus_hint_rate=1.0, seed=3)
    start, end = log_chain.first, log_chain.last
    kinds = []
    for _ in range(60):
        error = get_logs(proxy.url, hex(start), hex(end))["error"]
        assert error["code"] == LIMIT_EXCEEDED
        hint = parse_hint(error["message"])
        if hint is None:
            kinds.append("missing")
            assert error["data"] == {"limit": 5}
            continue
        low, high = hint
        assert error["data"] == {"from": f"0x{low:X}", "to": f"0x{high:X}", "limit": 5}
        assert not (low == start and start <= high < end), "a bogus hint must not be usable"
        if (low, high) == (start, end):
            kinds.append("equal")
        elif low == start and high > end:
            kinds.append("wider")
        elif high < low:
            kinds.append("reversed")
        else:
            assert low > end
            kinds.append("outside")
    assert set(kinds) == set(BOGUS_HINT_KINDS)
    assert proxy.hint_kinds == {kind: kinds.count(kind) for kind in BOGUS_HINT_KINDS}


def test_bogus_hints_are_reproducible_by_seed(log_chain, proxy_factory):
    def messages(seed: int) -> list[str]:
        proxy = proxy_factory(max_block_range=None, max_results=5, bogus_hint_rate=0.5, seed=seed)
        return [
            get_logs(proxy.url, hex(log_chain.first), hex(log_chain.last))["error"]["message"]
            for _ in range(40)
        ]

    first, again, other = messages(11), messages(11), messages(12)
    assert first == again
    assert first != other
    correct = f"[0x{log_chain.first:X}, 0x{log_chain.first + 4:X}]."
    share = sum(message.endswith(correct) for message in first) / len(first)
    assert 0.2 < share < 0.8


# --- counters, failures, concurrency -----------------------------------------------------------
def test_counters_count_and_reset(log_chain, proxy_factory):
    proxy = proxy_factory(max_block_range=10, max_results=5)
    rpc(proxy.url, "eth_chainId")
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_getLogs", "params": [
            {"fromBlock": hex(log_chain.first), "toBlock": hex(log_chain.first + 2)}
        ]},
        {"jsonrpc": "2.0", "id": 3, "method": "eth_getLogs", "params": [
            {"fromBlock": hex(0), "toBlock": hex(100)}
        ]},
    ]  # fmt: skip
    answers = post_raw(proxy.url, json.dumps(batch).encode()).json()
    assert [answer["id"] for answer in answers] == [1, 2, 3]
    assert answers[0]["result"] == hex(log_chain.last)
    assert len(answers[1]["result"]) == 3
    assert answers[2]["error"]["code"] in (LIMIT_EXCEEDED, INVALID_PARAMS)
    assert "error" in get_logs(proxy.url, hex(log_chain.first), hex(log_chain.first + 9))
    assert proxy.counters() == {
        "calls": 5,
        "http_requests": 3,
        "get_logs_calls": 3,
        "get_logs_ok": 1,
        "get_logs_errors": 2,
        "range_errors": 1,
        "result_errors": 1,
        "injected_failures": 0,
        "logs_served": 3,
        "hint_kinds": {"correct": 1},
        "methods": {"eth_chainId": 1, "eth_blockNumber": 1, "eth_getLogs": 3},
        "batches": 1,
    }
    proxy.reset_counters()
    assert proxy.counters() == {
        "calls": 0,
        "http_requests": 0,
        "get_logs_calls": 0,
        "get_logs_ok": 0,
        "get_logs_errors": 0,
        "range_errors": 0,
        "result_errors": 0,
        "injected_failures": 0,
        "logs_served": 0,
        "hint_kinds": {},
        "methods": {},
        "batches": 0,
    }


def test_fail_next(log_chain, proxy_factory):
    proxy = proxy_factory(max_block_range=None, max_results=None)
    proxy.fail_next(2)
    for _ in range(2):
        with pytest.raises(requests.HTTPError) as info:
            rpc(proxy.url, "eth_chainId")
        assert info.value.response.status_code == 503
    assert rpc(proxy.url, "eth_chainId")["result"] == hex(log_chain.chain_id)

    # only eth_getLogs, as web3 sees it: its HTTPProvider retries eth_getLogs on an HTTP error
    # by default (five times), so a lone 503 is absorbed unless retries are switched off
    log_filter = {"fromBlock": log_chain.first, "toBlock": log_chain.first + 3}
    proxy.fail_next(1, "eth_getLogs")
    assert len(Web3(HTTPProvider(proxy.url)).eth.get_logs(log_filter)) == 4
    proxy.fail_next(1, "eth_getLogs")
    w3 = Web3(HTTPProvider(proxy.url, exception_retry_configuration=None))
    assert w3.eth.chain_id == log_chain.chain_id
    with pytest.raises(requests.HTTPError):
        w3.eth.get_logs(log_filter)
    assert len(w3.eth.get_logs(log_filter)) == 4

    # as a JSON-RPC error, inside a batch
    proxy.fail_next(1, "eth_blockNumber", kind="rpc")
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_blockNumber", "params": []},
    ]
    answers = post_raw(proxy.url, json.dumps(batch).encode()).json()
    assert answers[0]["result"] == hex(log_chain.chain_id)
    assert answers[1]["error"]["code"] == INTERNAL_ERROR
    assert rpc(proxy.url, "eth_blockNumber")["result"] == hex(log_chain.last)

    # a failed call never reaches the node
    proxy.fail_next(1, "evm_mine", kind="rpc")
    assert rpc(proxy.url, "evm_mine")["error"]["code"] == INTERNAL_ERROR
    assert log_chain.w3.eth.block_number == log_chain.last

    assert proxy.injected_failures == 6
    assert proxy.get_logs_calls == 4
    assert proxy.get_logs_errors == 2
    assert proxy.get_logs_ok == 2


def test_concurrent_clients(log_chain, proxy_factory):
    proxy = proxy_factory(max_block_range=10, max_results=5)
    failures: list[BaseException] = []

    def client(number: int) -> None:
        session = requests.Session()
        try:
            for i in range(20):
                start = log_chain.first + (number + i) % 27  # three single-log blocks
                body = {"jsonrpc": "2.0", "id": i, "method": "eth_getLogs", "params": [
                    {"fromBlock": hex(start), "toBlock": hex(start + 2)}
                ]}  # fmt: skip
                answer = session.post(proxy.url, json=body, timeout=30).json()
                assert len(answer["result"]) == 3
        except BaseException as exc:
            failures.append(exc)
        finally:
            session.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert proxy.calls == proxy.get_logs_calls == proxy.get_logs_ok == 160
    assert proxy.logs_served == 480


def test_lifecycle(log_chain):
    with LimitingRpcProxy(log_chain.url, max_block_range=None, max_results=None) as proxy:
        assert proxy.url == f"http://127.0.0.1:{proxy.port}"
        assert rpc(proxy.url, "eth_chainId")["result"] == hex(log_chain.chain_id)
        assert requests.get(proxy.url, timeout=5).status_code == 405
    proxy.stop()  # idempotent
    with pytest.raises(requests.ConnectionError):
        rpc(proxy.url, "eth_chainId")
    with pytest.raises(RuntimeError):
        proxy.start()

    unstarted = LimitingRpcProxy(log_chain.url, max_block_range=None, max_results=None)
    unstarted.stop()  # never served: stop still closes its port

    dead = LimitingRpcProxy("http://127.0.0.1:9", max_block_range=None, max_results=None)
    with dead:
        response = post_raw(dead.url, b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}')
        assert response.status_code == 502
        assert response.json()["error"]["code"] == INTERNAL_ERROR


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        ({"max_block_range": None, "max_results": None}, 1),
        ({"max_block_range": 10, "max_results": None}, 10),  # 100 blocks
        ({"max_block_range": None, "max_results": 2}, 3),  # [0, 4] [5, 49] [50, 99]
        ({"max_block_range": 30, "max_results": 2}, 5),  # [0,4] [5,34] [35,64] [65,94] [95,99]
        ({"max_block_range": None, "max_results": 1}, 4),  # [0,2] [3,4] [5] (over the cap) [6,99]
    ],
)
def test_ideal_get_logs_calls(limits, expected):
    blocks = [0, 3, 5, 5, 50, 120]  # 120 lies outside the range
    assert ideal_get_logs_calls(blocks, 0, 99, **limits) == expected
    assert ideal_get_logs_calls([], 5, 4, **limits) == 0
