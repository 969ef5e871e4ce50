"""The web3 client: one place that knows how to reach a node."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from web3 import Web3
from web3.providers import HTTPProvider, LegacyWebSocketProvider


def web3_for(url: str | None = None, *, timeout: float | None = None) -> Web3:
    url = url or settings.CHAIN_RPC_URL
    timeout = timeout or settings.CHAIN_RPC_TIMEOUT
    if url.startswith(("ws://", "wss://")):
        return Web3(LegacyWebSocketProvider(url, websocket_timeout=timeout))
    return Web3(HTTPProvider(url, request_kwargs={"timeout": timeout}))


@dataclass(frozen=True)
class NodeStatus:
    chain_id: int
    block_number: int


def node_status(*, url: str | None = None, timeout: float | None = None) -> NodeStatus:
    """The node's chain id and head block; raises on any connection or RPC error."""
    w3 = web3_for(url, timeout=timeout)
    return NodeStatus(chain_id=w3.eth.chain_id, block_number=w3.eth.block_number)
