from django.core.management.base import BaseCommand

from messaging.services import attachments_purge_unused


class Command(BaseCommand):
    help = (
        "Delete the uploads no message took within ATTACHMENT_UNUSED_SECONDS (a day by "
        "default), files and all. The serving processes also do it every hour."
    )

    def handle(self, *args, **options):
        purged = attachments_purge_unused()
        if options["verbosity"]:
            self.stdout.write(f"Deleted {purged} unused upload(s).")
