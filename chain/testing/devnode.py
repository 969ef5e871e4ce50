"""Start and stop a local anvil node (npm's @foundry-rs/anvil) for tests and benchmarks.

Django is not needed: the binary is found from this file's place in the checkout."""

from __future__ import annotations

import secrets
import socket
import subprocess
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]  # the checkout (Django's BASE_DIR)
ANVIL = ROOT / "node_modules" / ".bin" / "anvil"
# Chain ids drawn for nodes started without one: far from anvil's default (31337) and from
# public chains, so a node of another process is never taken for ours.
RANDOM_CHAIN_IDS = range(1_000_000_000, 2_000_000_000)


class WrongNode(RuntimeError):
    """What answers on a node's port is not the node this process started."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, *, timeout: float = 20.0, process=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


class AnvilNode:
    """A real anvil node on a free port; ``stop()`` (or leaving the ``with`` block) ends it.

    Without ``chain_id`` the node gets a random one; either way the constructor returns only
    once the node on the port reports that chain id (``check``), so nothing is ever sent to a
    node another process started on a port it reused."""

    def __init__(self, *, chain_id: int | None = None, block_time: int | None = None):
        if not ANVIL.exists():
            raise FileNotFoundError(f"{ANVIL} is missing: run `npm ci`")
        self.port = free_port()
        self.chain_id = chain_id if chain_id is not None else secrets.choice(RANDOM_CHAIN_IDS)
        self.url = f"http://127.0.0.1:{self.port}"
        args = [str(ANVIL), "--host", "127.0.0.1", "--port", str(self.port)]
        args += ["--chain-id", str(self.chain_id), "--silent"]
        if block_time:
            args += ["--block-time", str(block_time)]
        self.process = subprocess.Popen(  # noqa: S603 - our own binary, no shell
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_for_port(self.port, process=self.process)
            self.check()
        except BaseException:
            self.stop()
            raise

    def check(self) -> None:
        """Raise ``WrongNode`` unless our process runs and the port answers our chain id."""
        if self.process.poll() is not None:
            raise WrongNode(f"anvil for port {self.port} exited with {self.process.returncode}")
        payload = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
        try:
            answer = requests.post(self.url, json=payload, timeout=10).json()
            reported = int(answer["result"], 16)
        except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
            raise WrongNode(f"no chain id from {self.url}: {exc!r}") from exc
        if reported != self.chain_id:
            raise WrongNode(
                f"the node on {self.url} reports chain id {reported}, not {self.chain_id}: "
                "another process's node"
            )

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> AnvilNode:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
