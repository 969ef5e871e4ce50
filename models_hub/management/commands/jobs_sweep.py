from django.core.management.base import BaseCommand

from models_hub.jobs.services import jobs_sweep


class Command(BaseCommand):
    help = (
        "Pick up what vanished workers left: chunks with a stale heartbeat or a lost message run "
        "again, lost joins are claimed again, jobs past JOB_MAX_RUNTIME fail (beat runs it too)."
    )

    def handle(self, *args, **options):
        self.stdout.write(str(jobs_sweep()))
