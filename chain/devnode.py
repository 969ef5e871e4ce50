"""Start and stop a local anvil node (npm's @foundry-rs/anvil) for tests and benchmarks."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from django.conf import settings

ANVIL = Path(settings.BASE_DIR) / "node_modules" / ".bin" / "anvil"


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
    """A real anvil node on a free port; ``stop()`` (or leaving the ``with`` block) ends it."""

    def __init__(self, *, chain_id: int = 31337, block_time: int | None = None):
        if not ANVIL.exists():
            raise FileNotFoundError(f"{ANVIL} is missing: run `npm ci`")
        self.port = free_port()
        self.chain_id = chain_id
        self.url = f"http://127.0.0.1:{self.port}"
        args = [str(ANVIL), "--host", "127.0.0.1", "--port", str(self.port)]
        args += ["--chain-id", str(chain_id), "--silent"]
        if block_time:
            args += ["--block-time", str(block_time)]
        self.process = subprocess.Popen(  # noqa: S603 - our own binary, no shell
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port(self.port, process=self.process)

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
