from django.core.management.base import BaseCommand

from accounts.services import login_sessions_prune


class Command(BaseCommand):
    help = (
        "Delete the login-session rows that ended, or were last used, longer than "
        "JWT_REFRESH_LIFETIME_SECONDS ago, and the revoked-token rows past their expiry."
    )

    def handle(self, *args, **options):
        pruned = login_sessions_prune()
        if options["verbosity"]:
            self.stdout.write(f"Deleted {pruned} login-session row(s).")
