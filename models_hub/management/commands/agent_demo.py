"""`manage.py agent_demo`: an AI agent pays per call (x402) for a demo model's predictions from
one of anvil's development accounts, with spend limits, and prints what it paid and got."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from models_hub.x402.agent import agent_session, settled

# Anvil's published development keys #3 to #9 (public test keys, printed by every anvil node;
# the demo mints each account TUSDC): never real funds, never anywhere but the local anvil.
ANVIL_KEYS = {
    3: "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    4: "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    5: "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    6: "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    7: "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    8: "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    9: "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
}


class Command(BaseCommand):
    help = (
        "Pay per call over HTTP 402 (x402) for a demo model's predictions, as an AI agent: the "
        "x402 package's client signs EIP-3009 authorizations in TUSDC from an anvil development "
        "account, within a cap per call and a budget, against the running portal."
    )

    def add_arguments(self, parser):
        parser.add_argument("--url", default=settings.SITE_URL, help="The portal's base URL.")
        parser.add_argument(
            "--model", default="globex/iris", help="organization/model (the demo's: globex/iris "
            "per call, acme/wine per row)."
        )  # fmt: skip
        parser.add_argument("--calls", type=int, default=3, help="How many calls to make.")
        parser.add_argument("--rows", type=int, default=2, help="Rows per call.")
        parser.add_argument(
            "--account", type=int, choices=sorted(ANVIL_KEYS), default=5,
            help="Which anvil development account pays (its public test key).",
        )  # fmt: skip
        parser.add_argument(
            "--max-per-call", type=int, default=10_000,
            help="Spend control: the most one call may cost, in TUSDC's atomic units "
            "(default 10000 = 0.01 TUSDC).",
        )  # fmt: skip
        parser.add_argument(
            "--budget", type=int, default=50_000,
            help="Spend control: the most the whole run may spend (default 0.05 TUSDC).",
        )  # fmt: skip

    def handle(self, *args, **options):
        import logging

        logging.getLogger("x402").setLevel(logging.WARNING)  # it logs every signature at INFO
        organization, _, slug = options["model"].partition("/")
        if not slug:
            raise CommandError("--model is organization/model, e.g. globex/iris")
        if options["calls"] < 1 or options["rows"] < 1:
            raise CommandError("--calls and --rows must be at least 1")
        currency = _tusdc()
        network = f"eip155:{currency.network.chain_id}"
        key = ANVIL_KEYS[options["account"]]
        session, spending = agent_session(
            key=key,
            network=network,
            asset=currency.address,
            max_per_call=options["max_per_call"],
            budget=options["budget"],
        )
        base = f"{options['url'].rstrip('/')}/api/models/{organization}/{slug}"
        version = _latest_version(base)
        rows = _rows(slug, version, options["calls"] * options["rows"])
        url = f"{base}/versions/{version['version']}/predict"
        balance = _balance_reader(currency)
        payer = _address(key)
        before = balance(payer)
        self.stdout.write(
            f"Agent {payer} (anvil #{options['account']}) holds {_units(before, currency)}; "
            f"spend controls: {currency.symbol} on {network} only, at most "
            f"{_units(options['max_per_call'], currency)} a call and "
            f"{_units(options['budget'], currency)} in all."
        )
        for number in range(options["calls"]):
            chunk = rows[number * options["rows"] : (number + 1) * options["rows"]]
            if not self._call(session, spending, url, chunk, number + 1, currency):
                break
        after = balance(payer)
        self.stdout.write(
            f"Paid {_units(spending.spent, currency)} for {len(spending.payments)} call(s); the "
            f"wallet went from {_units(before, currency)} to {_units(after, currency)}."
        )

    def _call(self, session, spending, url, rows, number, currency) -> bool:
        import requests
        from x402.http.clients.requests import PaymentError

        try:
            response = session.post(url, json={"rows": rows}, timeout=60)
        except PaymentError as exc:
            self.stdout.write(f"#{number}: not paid, the spend controls refused it: {exc}")
            return False
        except requests.RequestException as exc:
            raise CommandError(f"the portal at {url} did not answer: {exc}") from None
        payment = settled(response, spending)
        if payment is None:
            body = _body(response)
            self.stdout.write(
                f"#{number}: {response.status_code} {body.get('code', '')}: "
                f"{body.get('message', response.text[:200])}"
            )
            return False
        predictions = response.json().get("predictions")
        self.stdout.write(
            f"#{number}: paid {_units(payment['amount'], currency)} (transaction "
            f"{payment['transaction']}), got predictions {predictions}"
        )
        return True


def _tusdc():
    from licensing.models import Currency

    currency = (
        Currency.objects.filter(network__name=settings.CHAIN_NETWORK, symbol="TUSDC", eip3009=True)
        .select_related("network")
        .first()
    )
    if currency is None:
        raise CommandError(
            "no TUSDC on the local chain yet: run `make run` (or manage.py demo) first"
        )
    return currency


def _latest_version(base: str) -> dict:
    """The model's newest published version, as the public API describes it (an agent reads
    the features it must send from there)."""
    import requests

    try:
        response = requests.get(base, timeout=30)
    except requests.RequestException as exc:
        raise CommandError(f"the portal at {base} did not answer: {exc}") from None
    if response.status_code != 200:
        raise CommandError(f"{base}: {response.status_code} {_body(response).get('message', '')}")
    published = [v for v in response.json()["versions"] if v["published"]]
    if not published:
        raise CommandError(f"{base} has no published version")
    return max(published, key=lambda v: v["published_at"])


def _rows(slug: str, version: dict, count: int) -> list[list[float]]:
    """``count`` rows of the demo model's own dataset, in the version's features."""
    from models_hub.demo_models import train

    try:
        _, frame = train(slug)
    except ValueError:
        raise CommandError(f"{slug!r} is not one of the demo's models") from None
    names = version.get("feature_names") or []
    if names and set(names) <= set(frame.columns):
        frame = frame[names]
    else:
        frame = frame.iloc[:, : version["n_features"]]
    return frame.head(count).to_numpy().tolist()


def _balance_reader(currency):
    from chain import abi
    from chain.client import web3_for

    url = settings.CHAIN_RPC_URLS.get(currency.network.name, settings.CHAIN_RPC_URL)
    token = abi.contract_at(web3_for(url), abi.TEST_USD3009, currency.address)
    return lambda account: token.functions.balanceOf(account).call()


def _address(key: str) -> str:
    from eth_account import Account

    return Account.from_key(key).address


def _units(atomic: int, currency) -> str:
    from licensing.amounts import format_amount

    return format_amount(atomic, currency)


def _body(response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
