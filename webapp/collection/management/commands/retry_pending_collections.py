"""Send "Collect now" / "Train my twin" requests that Airflow could not take when they were made."""

from django.core.management.base import BaseCommand

from webapp.collection.services import retry_pending


class Command(BaseCommand):
    help = "Trigger the Airflow DAG runs of every pending request (run it from cron, or after Airflow is back)."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=float, default=0, metavar="SECONDS",
                            help="only requests last tried at least this long ago")

    def handle(self, *args, older_than, **options):
        sent = retry_pending(older_than_s=older_than)
        for request in sent:
            self.stdout.write(f"request {request.pk} ({request.dag_id}, user {request.user_id}): {request.status}"
                              + (f" - {request.reason}" if request.reason else ""))
        still = sum(1 for request in sent if request.status == "pending")
        self.stdout.write(f"{len(sent)} pending request(s) tried, {still} still pending")
