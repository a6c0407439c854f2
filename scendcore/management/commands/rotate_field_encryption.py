from django.core.management.base import BaseCommand, CommandError

from scendcore.credentials import rotate_all


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored workspace credential with the first key of FIELD_ENCRYPTION_KEYS. "
        "Rotate by putting a new key first (keeping the old ones after it), running this, "
        "then removing the old keys."
    )

    def handle(self, *args, **options):
        rotated, unreadable = rotate_all()
        self.stdout.write(f"Re-encrypted {rotated} stored secret(s) with the first key.")
        if unreadable:
            listed = "; ".join(f"{label} {pk} {column}" for label, pk, column in unreadable)
            raise CommandError(
                f"{len(unreadable)} stored secret(s) cannot be decrypted with any configured key and were left "
                f"as they are (add the key they were written with, or have them entered again): {listed}"
            )
