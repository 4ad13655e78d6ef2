"""Send "Collect now" / "Train my twin" requests, and export uploads to import, that Airflow could not
take when they were made."""

from django.core.management.base import BaseCommand

from webapp.collection.services import retry_pending
from webapp.sources.services import retry_pending_uploads


class Command(BaseCommand):
    help = "Trigger the Airflow DAG runs of every pending request (run it from cron, or after Airflow is back)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=float,
            default=0,
            metavar="SECONDS",
            help="only requests last tried at least this long ago",
        )

    def handle(self, *args, older_than, **options):
        sent = retry_pending(older_than_s=older_than)
        for request in sent:
            self.stdout.write(
                f"request {request.pk} ({request.dag_id}, user {request.user_id}): {request.status}"
                + (f" - {request.reason}" if request.reason else "")
            )
        still = sum(1 for request in sent if request.status == "pending")
        self.stdout.write(f"{len(sent)} pending request(s) tried, {still} still pending")
        uploads = retry_pending_uploads()
        for upload in uploads:
            self.stdout.write(
                f"upload {upload.pk} ({upload.kind}, user {upload.user_id}): {upload.status}"
                + (f" - {upload.error}" if upload.error else "")
            )
        still = sum(1 for upload in uploads if upload.status == "pending")
        self.stdout.write(f"{len(uploads)} waiting upload(s) tried, {still} still waiting")
