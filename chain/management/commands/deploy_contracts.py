import time

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.management.base import BaseCommand, CommandError

from chain.client import web3_for
from chain.deploy import DeployError, deploy_contracts
from chain.services import network_ensure


class Command(BaseCommand):
    help = "Deploy what is missing of our contracts on a network and wire their roles (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--network", required=True, help="A name from CHAIN_NETWORK/CHAIN_RPC_URLS."
        )
        parser.add_argument(
            "--wait", type=float, default=0, help="Seconds to wait for the node to answer first."
        )
        parser.add_argument("--timeout", type=float, default=120)

    def handle(self, *args, network, wait, timeout, **options):
        self._wait_for_node(network, wait)
        try:
            found = network_ensure(name=network)
            report = deploy_contracts(network=found, timeout=timeout, log=self.stdout.write)
        except (ValidationError, ImproperlyConfigured, DeployError) as exc:
            raise CommandError(str(exc)) from None
        if report.changed:
            self.stdout.write(
                self.style.SUCCESS(
                    f"{found}: deployed {report.deployed or 'nothing'}, wired {len(report.wired)}"
                )
            )
        else:
            self.stdout.write(f"{found}: every contract is deployed and wired; nothing to do")

    def _wait_for_node(self, network: str, wait: float) -> None:
        from django.conf import settings

        url = settings.CHAIN_RPC_URLS.get(network)
        if url is None:
            raise CommandError(f"no RPC URL for network {network!r}: set CHAIN_RPC_URLS")
        deadline = time.monotonic() + wait
        while True:
            try:
                web3_for(url, timeout=2).eth.chain_id  # noqa: B018 - a probe
                return
            except Exception as exc:
                if time.monotonic() >= deadline:
                    raise CommandError(
                        f"the node of {network} at {url} does not answer: {exc}"
                    ) from None
                time.sleep(0.5)
