"""An injected EIP-1193 test wallet for Playwright pages, and its pytest fixture ``wallet``.

The page never talks to a node: the wallet's ``request`` goes through a Playwright binding to
Python, which answers wallet methods itself and forwards everything else to the anvil node of
the wallet's current chain, whose unlocked development accounts sign (``eth_sendTransaction``
and ``personal_sign`` are anvil's own). The provider announces itself through EIP-6963
(``eip6963:announceProvider``, again on every ``eip6963:requestProvider``) and is also
``window.ethereum``.

Use::

    def test_buy(page, wallet, chain):         # ``wallet`` is installed on ``page``, on
        wallet.use_account(chain.acct.alice)   # ``chain_node`` (the current chain)
        page.goto("/market/offers/1/buy/")
        wallet.reject_next()                   # the next request answers 4001
        ...
        assert wallet.sent                     # the hashes it sent

API of ``InjectedWallet`` (the fixture's value):

- ``add_node(url, chain_id=None, *, known=True) -> int``: a node the wallet can reach, by chain
  id (asked of the node when not given). ``known=False``: the wallet has not added that network
  yet, so ``wallet_switchEthereumChain`` answers 4902 until the page adds it with
  ``wallet_addEthereumChain`` (whose ``rpcUrls[0]`` may also name a node not added here).
- ``chain_id``, ``account``, ``connected``: the current chain, the selected account (anvil's
  first account by default), whether the page connected (``eth_accounts`` is empty until
  ``eth_requestAccounts``).
- ``switch_to(chain_id)`` and ``use_account(address)``: as if the person switched in the
  wallet; the page gets ``chainChanged`` / ``accountsChanged`` (``connect=False`` leaves it
  disconnected).
- ``reject_next(method=None)``: the next request (of ``method``, when given) is rejected with
  4001, as if the person pressed "Reject".
- ``drop_next_transaction()``: the next ``eth_sendTransaction`` returns a hash that never mines
  (sent with automine off, then removed from the pool with ``anvil_dropTransaction``).
- ``skip_estimation(gas=500_000)``: send transactions with this gas limit instead of the
  estimate (plus 20%) the wallet asks the node for first, so one that would revert is mined and
  reverts (as when someone confirms despite the wallet's warning); without it, an estimate that
  reverts refuses the transaction (``-32603`` with the revert data), as wallets do.
- ``before_send``: a callable run with the transaction dict just before it is forwarded (to
  change the chain under the page: raise a price...).
- ``requests``: every ``(method, params)`` the page asked, in order; ``sent``: hashes sent.
- ``emit(event, value)``: fire a provider event in the page.

Methods answered here: ``eth_requestAccounts``, ``eth_accounts``, ``eth_chainId``,
``net_version``, ``wallet_switchEthereumChain``, ``wallet_addEthereumChain``,
``wallet_requestPermissions``/``wallet_getPermissions`` (eth_accounts only); ``personal_sign``,
``eth_signTypedData_v4`` (EIP-712, anvil signs) and ``eth_sendTransaction`` check the account
(4100 otherwise) and the transaction's chain id (-32602 when it is not the current chain)
before forwarding. A node's error for a transaction
comes back as MetaMask shapes it: ``-32603`` with the node's ``{code, message, data}`` (revert
data included) in ``data``.

Options when installing by hand: ``InjectedWallet(page, announce=False)`` (no EIP-6963, only
``window.ethereum``) or ``ethereum=False`` (EIP-6963 only); ``install()`` before the first
``goto``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest
import requests

BINDING = "__injectedWalletRequest"
EMIT = "__injectedWalletEmit"
USER_REJECTED = 4001
UNAUTHORIZED = 4100
UNSUPPORTED = 4200
UNRECOGNIZED_CHAIN = 4902
INVALID_PARAMS = -32602
INTERNAL = -32603

_uuid = itertools.count(1)

PROVIDER_JS = """
(() => {
  const config = %(config)s;
  const listeners = new Map();
  const emit = (event, value) => {
    for (const listener of [...(listeners.get(event) || [])]) {
      try { listener(value); } catch (error) { console.error(error); }
    }
  };
  class ProviderRpcError extends Error {
    constructor({ code, message, data }) {
      super(message);
      this.code = code;
      if (data !== undefined) this.data = data;
    }
  }
  const provider = {
    isInjectedTestWallet: true,
    async request(args) {
      if (!args || typeof args.method !== "string") {
        throw new ProviderRpcError({ code: -32600, message: "Invalid request." });
      }
      const answer = await window.%(binding)s({ method: args.method, params: args.params ?? [] });
      for (const [event, value] of answer.events || []) emit(event, value);
      if (answer.error) throw new ProviderRpcError(answer.error);
      return answer.result;
    },
    on(event, listener) {
      if (!listeners.has(event)) listeners.set(event, new Set());
      listeners.get(event).add(listener);
      return provider;
    },
    removeListener(event, listener) {
      listeners.get(event)?.delete(listener);
      return provider;
    },
  };
  window.%(emit)s = emit;
  if (config.ethereum) window.ethereum = provider;
  if (config.announce) {
    const detail = Object.freeze({ info: Object.freeze(config.info), provider });
    const announce = () =>
      window.dispatchEvent(new CustomEvent("eip6963:announceProvider", { detail }));
    window.addEventListener("eip6963:requestProvider", announce);
    announce();
  }
})();
"""

ICON = (
    "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E"
    "%3Crect width='16' height='16' rx='3' fill='%23345'/%3E%3C/svg%3E"
)


class WalletError(Exception):
    """An EIP-1193 error answered to the page."""

    def __init__(self, code: int, message: str, data: Any = None):
        super().__init__(message)
        self.code, self.message, self.data = code, message, data

    def answer(self) -> dict:
        error = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class InjectedWallet:
    """An EIP-1193 provider in ``page`` whose requests Python answers (see the module doc)."""

    def __init__(
        self,
        page,
        *,
        name: str = "Test Wallet",
        announce: bool = True,
        ethereum: bool = True,
        timeout: float = 30,
    ):
        self.page = page
        self.name = name
        self.announce = announce
        self.ethereum = ethereum
        self.timeout = timeout
        self.nodes: dict[int, str] = {}
        self.known: set[int] = set()
        self.chain_id: int | None = None
        self.account: str | None = None
        self.connected = False
        self.requests: list[tuple[str, list]] = []
        self.sent: list[str] = []
        self.before_send: Callable[[dict], None] | None = None
        self._reject: list[str | None] = []
        self._drop_next = False
        self._gas: int | None = None
        self._session = requests.Session()
        self.info = {
            "uuid": f"00000000-0000-4000-8000-{next(_uuid):012d}",
            "name": name,
            "icon": ICON,
            "rdns": "example.portal.testwallet",
        }

    # --- set-up ---

    def install(self) -> InjectedWallet:
        """Expose the binding and the provider script (before the page's first navigation)."""
        config = {"announce": self.announce, "ethereum": self.ethereum, "info": self.info}
        script = PROVIDER_JS % {"config": json.dumps(config), "binding": BINDING, "emit": EMIT}
        self.page.expose_binding(BINDING, self._handle)
        self.page.add_init_script(script=script)
        return self

    def add_node(self, url: str, chain_id: int | None = None, *, known: bool = True) -> int:
        if chain_id is None:
            chain_id = int(self._rpc(url, "eth_chainId", []), 16)
        self.nodes[chain_id] = url
        if known:
            self.known.add(chain_id)
        if self.chain_id is None and known:
            self.chain_id = chain_id
            self.account = self.account or self._rpc(url, "eth_accounts", [])[0]
        return chain_id

    # --- what a test tells the wallet ---

    def reject_next(self, method: str | None = None) -> None:
        self._reject.append(method)

    def drop_next_transaction(self) -> None:
        self._drop_next = True

    def skip_estimation(self, gas: int | None = 500_000) -> None:
        self._gas = gas

    def switch_to(self, chain_id: int) -> None:
        """The person picks another network in the wallet."""
        self._switch(chain_id)
        self.emit("chainChanged", hex(chain_id))

    def use_account(self, address: str, *, connect: bool = True) -> None:
        self.account = address
        self.connected = self.connected or connect
        if self.connected:
            self.emit("accountsChanged", [address])

    def emit(self, event: str, value: Any) -> None:
        self.page.evaluate(f"([e, v]) => window.{EMIT} && window.{EMIT}(e, v)", [event, value])

    @property
    def node_url(self) -> str:
        return self.nodes[self.chain_id]

    # --- answering the page ---

    def _handle(self, source, payload: dict) -> dict:
        method, params = payload.get("method", ""), payload.get("params") or []
        self.requests.append((method, params))
        events: list = []
        try:
            if self._reject and self._reject[0] in (None, method):
                self._reject.pop(0)
                raise WalletError(USER_REJECTED, "User rejected the request.")
            result = self._answer(method, params, events)
        except WalletError as error:
            return {"error": error.answer(), "events": events}
        return {"result": result, "events": events}

    def _answer(self, method: str, params: list, events: list) -> Any:
        if method == "eth_requestAccounts":
            self.connected = True
            events.append(["connect", {"chainId": hex(self.chain_id)}])
            return [self.account]
        if method == "eth_accounts":
            return [self.account] if self.connected else []
        if method == "eth_chainId":
            return hex(self.chain_id)
        if method == "net_version":
            return str(self.chain_id)
        if method in ("wallet_requestPermissions", "wallet_getPermissions"):
            if method == "wallet_requestPermissions":
                self.connected = True
            return [{"parentCapability": "eth_accounts"}] if self.connected else []
        if method == "wallet_switchEthereumChain":
            chain_id = _chain_param(params)
            if chain_id != self.chain_id:
                self._switch(chain_id)
                events.append(["chainChanged", hex(chain_id)])
            return None
        if method == "wallet_addEthereumChain":
            return self._add_chain(params, events)
        if method == "personal_sign":
            message, address = [*params, None, None][:2]
            self._require_account(address)
            return self._forward("personal_sign", [message, self.account])
        if method == "eth_signTypedData_v4":  # EIP-712: [address, typed data as JSON]
            address, typed = [*params, None, None][:2]
            self._require_account(address)
            return self._forward("eth_signTypedData_v4", [self.account, typed])
        if method == "eth_sendTransaction":
            return self._send(params)
        if method.startswith(("wallet_", "eth_sign", "eth_signTypedData")):
            raise WalletError(UNSUPPORTED, f"The test wallet does not support {method}.")
        return self._forward(method, params)

    def _switch(self, chain_id: int) -> None:
        if chain_id not in self.known or chain_id not in self.nodes:
            raise WalletError(
                UNRECOGNIZED_CHAIN,
                f"Unrecognized chain ID {hex(chain_id)}. Try adding the chain using "
                "wallet_addEthereumChain first.",
            )
        self.chain_id = chain_id

    def _add_chain(self, params: list, events: list) -> None:
        chain_id = _chain_param(params)
        spec = params[0]
        urls = spec.get("rpcUrls") or []
        if chain_id not in self.nodes:
            if not urls:
                raise WalletError(INVALID_PARAMS, "rpcUrls is required to add a chain.")
            self.nodes[chain_id] = urls[0]
        reported = int(self._rpc(self.nodes[chain_id], "eth_chainId", []), 16)
        if reported != chain_id:
            raise WalletError(
                INVALID_PARAMS, f"The RPC URL reports chain id {reported}, not {chain_id}."
            )
        self.known.add(chain_id)
        if chain_id != self.chain_id:  # MetaMask asks to switch to an added chain at once
            self.chain_id = chain_id
            events.append(["chainChanged", hex(chain_id)])

    def _require_account(self, address: str | None) -> None:
        if not self.connected or not address or address.lower() != self.account.lower():
            raise WalletError(
                UNAUTHORIZED, "The requested account has not been authorized by the user."
            )

    def _send(self, params: list) -> str:
        if not params or not isinstance(params[0], dict):
            raise WalletError(INVALID_PARAMS, "eth_sendTransaction takes one transaction object.")
        tx = dict(params[0])
        self._require_account(tx.get("from"))
        if "chainId" in tx and int(tx["chainId"], 16) != self.chain_id:
            raise WalletError(
                INVALID_PARAMS,
                f"Invalid chainId {tx['chainId']}: the wallet is on {hex(self.chain_id)}.",
            )
        if "gas" not in tx:
            if self._gas:
                tx["gas"] = hex(self._gas)
            else:  # as wallets do: a transaction that would revert is refused, not sent
                estimate = int(self._forward("eth_estimateGas", [tx], wrap=True), 16)
                tx["gas"] = hex(estimate * 6 // 5)
        if self.before_send is not None:
            self.before_send(tx)
        if self._drop_next:
            self._drop_next = False
            return self._send_dropped(tx)
        tx_hash = self._forward("eth_sendTransaction", [tx], wrap=True)
        self.sent.append(tx_hash)
        return tx_hash

    def _send_dropped(self, tx: dict) -> str:
        self._forward("evm_setAutomine", [False])
        try:
            tx_hash = self._forward("eth_sendTransaction", [tx], wrap=True)
            self._forward("anvil_dropTransaction", [tx_hash])
        finally:
            self._forward("evm_setAutomine", [True])
        self.sent.append(tx_hash)
        return tx_hash

    def _forward(self, method: str, params: list, *, wrap: bool = False) -> Any:
        try:
            return self._rpc(self.node_url, method, params)
        except WalletError as error:
            if not wrap:
                raise
            # MetaMask's shape: an internal error carrying the node's error (revert data too)
            raise WalletError(
                INTERNAL,
                "Internal JSON-RPC error.",
                {"code": error.code, "message": error.message, "data": error.data},
            ) from None

    def _rpc(self, url: str, method: str, params: list) -> Any:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        try:
            answer = self._session.post(url, json=body, timeout=self.timeout).json()
        except (requests.RequestException, ValueError) as exc:
            raise WalletError(INTERNAL, f"The node at {url} did not answer: {exc}") from None
        if "error" in answer:
            error = answer["error"]
            code, message = error.get("code", INTERNAL), error.get("message", "")
            raise WalletError(code, message, error.get("data"))
        return answer.get("result")


def _chain_param(params: list) -> int:
    try:
        return int(params[0]["chainId"], 16)
    except (IndexError, KeyError, TypeError, ValueError):
        raise WalletError(INVALID_PARAMS, "Expected [{chainId: '0x…'}].") from None


@pytest.fixture
def wallet(page, chain_node) -> InjectedWallet:
    """An ``InjectedWallet`` installed on ``page``, on ``chain_node`` (anvil's first account)."""
    injected = InjectedWallet(page)
    injected.add_node(chain_node.url, chain_node.chain_id)
    return injected.install()
