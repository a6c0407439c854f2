from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from scendcore.api import api_token_create
from scendcore.models import Tenant


class Command(BaseCommand):
    help = "Create an API token for a user in a workspace; the key is printed once."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="workspace slug")
        parser.add_argument("--user", required=True, help="username")
        parser.add_argument("--name", default="API token")

    def handle(self, *args, tenant, user, name, **options):
        workspace = Tenant.objects.filter(slug=tenant).first()
        member = get_user_model().objects.filter(username=user).first()
        if workspace is None or member is None:
            raise CommandError("No such workspace or user.")
        try:
            key = api_token_create(tenant=workspace, user=member, name=name)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(key)
