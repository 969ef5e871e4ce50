from django.apps import AppConfig


class LicensingConfig(AppConfig):
    name = "licensing"
    verbose_name = "Licensing"

    def ready(self) -> None:
        from chain.handlers import on_batch, on_rollback
        from licensing import projections  # noqa: F401 - registers the chain event handlers
        from licensing.services import credits

        # after the projections (which write the CreditEntry rows), in the sync's transaction
        on_batch(credits.sync_batch_credits)
        on_rollback(credits.sync_rollback_credits)
