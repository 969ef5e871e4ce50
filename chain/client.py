"""The web3 client: one place that knows how to reach a node."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from web3 import Web3
from web3.providers import HTTPProvider


def web3_for(url: str | None = None, *, timeout: float | None = None) -> Web3:
    """A client for ``url`` (the configured node by default), reused across calls."""
    return _web3(url or settings.CHAIN_RPC_URL, timeout or settings.CHAIN_RPC_TIMEOUT)


@lru_cache(maxsize=16)
def _web3(url: str, timeout: float) -> Web3:
    # One provider per node keeps its HTTP session (and connection pool) alive between calls.
    return Web3(HTTPProvider(url, request_kwargs={"timeout": timeout}))


@dataclass(frozen=True)
class NodeStatus:
    chain_id: int
    block_number: int


def node_status(*, url: str | None = None, timeout: float | None = None) -> NodeStatus:
    """The node's chain id and head block; raises on any connection or RPC error."""
    w3 = web3_for(url, timeout=timeout)
    return NodeStatus(chain_id=w3.eth.chain_id, block_number=w3.eth.block_number)


def chain_rpc_url(chain_id: int) -> str:
    """The RPC URL of the active network with ``chain_id`` ("" when none is configured for it);
    ``LookupError`` when the portal has no such active network. Sign-In with Ethereum checks
    contract wallets' signatures (EIP-1271, EIP-6492) against it (``SIWE_CHAIN_RPC_URL``)."""
    from chain.models import Network

    network = Network.objects.filter(chain_id=chain_id, is_active=True).first()
    if network is None:
        raise LookupError(chain_id)
    return network.rpc_url or ""


def active_chains() -> list[tuple[int, str]]:
    """``(chain id, name)`` of the active networks, the chains a wallet may sign in on."""
    from chain.models import Network

    return list(Network.objects.filter(is_active=True).values_list("chain_id", "name"))
