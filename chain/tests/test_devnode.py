"""The test chain node: its own random chain id, checked before anything is sent to it."""

from __future__ import annotations

import pytest
import requests

from chain.testing import devnode
from chain.testing.devnode import RANDOM_CHAIN_IDS, AnvilNode, WrongNode


def chain_id_at(url: str) -> int:
    payload = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
    return int(requests.post(url, json=payload, timeout=10).json()["result"], 16)


def test_a_node_answers_its_own_random_chain_id(anvil):
    assert anvil.chain_id in RANDOM_CHAIN_IDS
    assert chain_id_at(anvil.url) == anvil.chain_id
    anvil.check()


def test_a_port_another_node_answers_on_is_refused(anvil, monkeypatch):
    # given a free port that another process's node took meanwhile
    monkeypatch.setattr(devnode, "free_port", lambda: anvil.port)

    # when a node is started on it, then the start fails before anything is sent
    with pytest.raises(WrongNode, match=r"exited|reports chain id"):
        AnvilNode()
    assert chain_id_at(anvil.url) == anvil.chain_id  # the other node is left alone


def test_a_stopped_node_fails_its_check():
    with AnvilNode(chain_id=4_242_424) as node:
        node.check()
    with pytest.raises(WrongNode, match="exited"):
        node.check()
