from django.conf import settings
from django.core.management.base import BaseCommand

from models_hub.jobs.services import jobs_purge


class Command(BaseCommand):
    help = (
        "Delete the files (input, parts, output) of jobs that ended JOB_RETENTION_DAYS ago "
        "(beat runs it too)."
    )

    def handle(self, *args, **options):
        purged = jobs_purge()
        days = settings.JOB_RETENTION_DAYS
        self.stdout.write(f"deleted the files of {purged} job(s) that ended over {days} day(s) ago")
