"""`manage.py demo`: idempotent demo data for a local portal (organizations, staff, models) and,
on the local anvil, the models' offers published to chain and a few purchases."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from licensing.demo import DemoChainError, load_demo_chain
from models_hub.demo_models import DEMO_MODELS, load_demo_models
from models_hub.models import AIModel
from portal.choices import Role
from portal.demo import DEMO_ORGANIZATIONS, DEMO_PASSWORD, load_demo_organizations
from portal.models import Organization


class Command(BaseCommand):
    help = (
        "Create what is missing of the demo organizations, staff and models, validating and "
        "publishing the demo's own versions; then, on the local anvil, the models' offers, "
        "published to chain, and a few purchases (safe to run again: nothing is reset)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="Run even when DEBUG is off (never in production)."
        )
        parser.add_argument(
            "--validate-now",
            action="store_true",
            help="Kept for old scripts: the demo always validates its versions in this process.",
        )
        chain = parser.add_mutually_exclusive_group()
        chain.add_argument(
            "--no-chain", action="store_true", help="Leave the chain out (anvil may not run yet)."
        )
        chain.add_argument(
            "--chain-only",
            action="store_true",
            help="Only the chain part (the demo models exist already); fails without the node.",
        )
        parser.add_argument(
            "--timeout", type=float, default=120, help="Seconds to wait for the chain's steps."
        )

    def handle(self, *args, **options):
        if not settings.DEBUG and not options["force"]:
            raise CommandError("demo data is for local use: run with DEBUG=true or pass --force")
        if options["chain_only"]:
            slugs = [slug for _, slug, _ in DEMO_ORGANIZATIONS]
            organizations = list(Organization.objects.filter(slug__in=slugs))
        else:
            organizations, rows = load_demo_organizations()
            self._models(organizations)
        if not options["no_chain"]:
            self._chain(organizations, timeout=options["timeout"], required=options["chain_only"])
        if not options["chain_only"]:
            self._sign_ins(rows)

    def _models(self, organizations) -> None:
        uploaded = 0
        for organization in organizations:
            manager = _manager(organization)
            uploaded += load_demo_models(
                organization=organization, published_by=manager, log=self.stdout
            )
        if uploaded:
            self.stdout.write(f"Registered, validated and published {uploaded} model version(s).")

    def _chain(self, organizations, *, timeout: float, required: bool) -> None:
        demo = {(d.organization, d.slug) for d in DEMO_MODELS}
        models = [
            model
            for model in AIModel.objects.filter(organization__in=organizations).select_related(
                "organization"
            )
            if (model.organization.slug, model.slug) in demo
        ]
        if required and not models:
            raise CommandError("no demo models yet: run manage.py demo first")
        managers = {organization.pk: _manager(organization) for organization in organizations}
        try:
            report = load_demo_chain(
                models=models, managers=managers, log=self.stdout.write, timeout=timeout
            )
        except DemoChainError as exc:
            raise CommandError(f"demo chain data: {exc}") from None
        if report.skipped:
            if required:
                raise CommandError(f"demo chain data needs the local anvil: {report.skipped}")
            self.stdout.write(
                f"Chain data skipped: {report.skipped}. `make run` publishes the demo's offers "
                "once anvil is up (or run `manage.py demo --chain-only` then)."
            )
            return
        self._pay_per_call(models)
        if report.steps or report.purchases:
            self.stdout.write(
                f"Chain: queued and confirmed {report.steps} publishing step(s), made "
                f"{report.purchases} purchase(s) from anvil's development accounts"
                + (f", opened {report.proposals} proposal(s)." if report.proposals else ".")
            )
        else:
            self.stdout.write("Chain: the demo's offers are published and bought already.")

    def _pay_per_call(self, models) -> None:
        from chain.models import Network
        from licensing.amounts import format_amount
        from models_hub.x402.demo import load_demo_pay_per_call

        network = Network.objects.get(name=settings.CHAIN_NETWORK)
        for offer in load_demo_pay_per_call(network=network, models=models):
            unit = "row" if offer.per_row else "call"
            price = format_amount(int(offer.price), offer.currency)
            self.stdout.write(
                f"  {offer.model.name}: sold to agents at {price} a {unit} over HTTP 402 "
                "(manage.py agent_demo pays for it)"
            )

    def _sign_ins(self, rows) -> None:
        self.stdout.write(self.style.SUCCESS("Demo data is ready. Sign in at /accounts/login/:"))
        for email, what in rows:
            self.stdout.write(f"  {email:<28} {DEMO_PASSWORD:<18} {what}")
        self.stdout.write(
            "  (the password is set when a demo user is created; a changed one stays)"
        )


def _manager(organization: Organization):
    manager = organization.memberships.filter(role=Role.MANAGER).first()
    return manager.user if manager else None
