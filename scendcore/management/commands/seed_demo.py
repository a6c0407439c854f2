"""Demo workspace: `python manage.py seed_demo`. Safe to run again and again.

Creates the tenant "Acme Outbound" with a rep, a manager and an admin, then lets each
app add its demo data through `<app>.demo.seed(tenant=..., users=...)` (apps without
a demo module are skipped). A second tenant, "Globex Demo", shows tenant switching."""
import importlib
import importlib.util

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from scendcore.models import Membership, Role, Tenant

DEMO_PASSWORD = "scendcore-demo"
DEMO_MODULES = ("contacts.demo", "agents.demo", "messaging.demo", "sequences.demo")

ACME = {
    "slug": "acme-outbound",
    "name": "Acme Outbound",
    "default_timezone": "America/New_York",
    "postal_address": "Acme Outbound, Inc.\n245 Park Avenue, 24th Floor\nNew York, NY 10167, USA",
    "allowed_link_domains": "acme-outbound.example\nscendly.example",
}
GLOBEX = {
    "slug": "globex-demo",
    "name": "Globex Demo",
    "default_timezone": "Europe/London",
    "postal_address": "Globex Ltd\n12 Finsbury Square\nLondon EC2A 1AS, United Kingdom",
}
# username, first, last, role in Acme
ACME_USERS = [
    ("demo-rep", "Riley", "Chen", Role.REP),
    ("demo-manager", "Morgan", "Alvarez", Role.MANAGER),
    ("demo-admin", "Avery", "Okafor", Role.ADMIN),
]
GLOBEX_ADMIN = ("globex-admin", "Gale", "Novak")


class DemoUsers(dict):
    """What each demo module's `seed(users=...)` receives: {"rep", "manager", "admin"} →
    user. Positions work too (0 = rep, 1 = manager, 2 = admin) for modules that just
    want "a user"."""

    def __getitem__(self, key):
        if isinstance(key, int):
            return list(self.values())[key]
        return super().__getitem__(key)


def ensure_user(username, first, last, *, staff=False):
    """The demo user with the demo password (reset if someone changed it)."""
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=username,
        defaults={"first_name": first, "last_name": last, "email": f"{username}@scendcore-demo.example"},
    )
    changed = []
    if created or not user.check_password(DEMO_PASSWORD):
        user.set_password(DEMO_PASSWORD)
        changed.append("password")
    if staff and not (user.is_staff and user.is_superuser):
        user.is_staff = user.is_superuser = True
        changed += ["is_staff", "is_superuser"]
    if changed:
        user.save(update_fields=changed)
    return user


def ensure_tenant(spec):
    values = {k: v for k, v in spec.items() if k != "slug"}
    tenant, _ = Tenant.objects.get_or_create(slug=spec["slug"], defaults=values)
    return tenant


def ensure_member(user, tenant, role):
    Membership.objects.update_or_create(user=user, tenant=tenant, defaults={"role": role})


def module_exists(name):
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # the parent package is missing
        return False


def demo_seeders(names=DEMO_MODULES):
    """(name, seed function) for each demo module that exists. A module that exists but
    fails to import is an error, not a skip."""
    for name in names:
        if not module_exists(name):
            yield name, None
        else:
            yield name, importlib.import_module(name).seed


class Command(BaseCommand):
    help = "Create (or complete) the demo workspaces and print their logins."

    def add_arguments(self, parser):
        # `make run` prints the logins in its own banner, once the servers are up.
        parser.add_argument("--no-logins", action="store_true", help="Do not print the demo logins.")

    def handle(self, *args, **options):
        with transaction.atomic():
            acme = ensure_tenant(ACME)
            users = DemoUsers()
            for username, first, last, role in ACME_USERS:
                users[role.value] = ensure_user(username, first, last, staff=role == Role.ADMIN)
                ensure_member(users[role.value], acme, role)

            globex = ensure_tenant(GLOBEX)
            globex_admin = ensure_user(*GLOBEX_ADMIN)
            ensure_member(globex_admin, globex, Role.ADMIN)
            ensure_member(users["admin"], globex, Role.ADMIN)

        for name, seed in demo_seeders():
            if seed is None:
                self.stdout.write(f"  skipped {name} (not present)")
                continue
            with transaction.atomic():
                seed(tenant=acme, users=users)
            self.stdout.write(f"  seeded {name}")

        # Globex gets a few contacts of its own, so switching workspaces visibly changes data.
        from contacts import demo as contacts_demo

        with transaction.atomic():
            contacts_demo.seed(
                tenant=globex, count=40,
                users=DemoUsers(rep=globex_admin, manager=globex_admin, admin=globex_admin),
            )

        self.stdout.write(self.style.SUCCESS("Demo data is ready."))
        if options["no_logins"]:
            return
        self.stdout.write(
            f"Demo logins (password for all: {DEMO_PASSWORD}):\n"
            f"  demo-rep      rep in Acme Outbound\n"
            f"  demo-manager  manager in Acme Outbound\n"
            f"  demo-admin    admin in Acme Outbound and Globex Demo (and Django admin)\n"
            f"  globex-admin  admin in Globex Demo"
        )
