from django.core.management.base import BaseCommand

from accounts.services import user_deletions_finish


class Command(BaseCommand):
    help = (
        "Finish the account deletions that stopped half-way (the account is marked deleted "
        "and inactive but not yet anonymised): erase what they wrote, anonymise them."
    )

    def handle(self, *args, **options):
        finished = user_deletions_finish()
        if options["verbosity"]:
            self.stdout.write(f"Finished {finished} account deletion(s).")
