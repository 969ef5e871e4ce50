"""Why a mined transaction reverted, read back from the node: the outbox's sender and the
buy page both ask it."""

from __future__ import annotations

from typing import Any

from hexbytes import HexBytes
from requests.exceptions import RequestException
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3Exception, Web3RPCError

from chain.abi import DecodedRevert, decode_revert

_NODE_ERRORS = (RequestException, TimeoutError, ConnectionError, OSError, Web3Exception)


def _traced(w3: Web3, tx_hash: Any) -> DecodedRevert | None:
    """The revert in the transaction's call trace, where the node offers traces (anvil does)."""
    try:
        response = w3.provider.make_request(
            "debug_traceTransaction", [HexBytes(tx_hash).to_0x_hex(), {"tracer": "callTracer"}]
        )
    except (*_NODE_ERRORS, TypeError, ValueError):
        return None
    trace = response.get("result") if isinstance(response, dict) else None
    output = trace.get("output") if isinstance(trace, dict) else None
    if not output or output == "0x":
        return None
    try:
        return decode_revert(output)
    except ValueError:
        return None


def mined_revert(w3: Web3, *, tx_hash: Any, call: dict, block_number: int) -> DecodedRevert | None:
    """The decoded revert of the mined transaction ``tx_hash`` (``call``: its from, to, data,
    value and gas): its trace where the node offers one, else the call replayed before and
    after its block (an earlier transaction in the block may be the cause). None when neither
    says (out of gas, or the state changed before it was mined)."""
    traced = _traced(w3, tx_hash)
    if traced is not None:
        return traced
    for block in (max(block_number - 1, 0), block_number):
        try:
            w3.eth.call(call, block_identifier=block)
        except (ContractLogicError, Web3RPCError) as exc:  # custom errors included
            try:
                return decode_revert(exc)
            except ValueError:
                continue
        except _NODE_ERRORS:
            return None
    return None
