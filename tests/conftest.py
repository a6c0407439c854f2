import os

import pytest

# Playwright's sync API runs an event loop in the test thread; Django would otherwise
# refuse ORM calls from tests that use the `page` fixture.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from scendcore.models import Role  # noqa: E402
from tests.factories import MembershipFactory, TenantFactory, UserFactory  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


@pytest.fixture
def tenant(db):
    return TenantFactory(name="Acme Outbound", slug="acme", default_timezone="America/New_York")


@pytest.fixture
def other_tenant(db):
    """The outsider: nothing of `tenant` may ever be visible to this tenant's users."""
    return TenantFactory(name="Outsider Inc", slug="outsider")


def _member(tenant, role, username):
    user = UserFactory(username=username, first_name=username.title())
    MembershipFactory(user=user, tenant=tenant, role=role)
    return user


@pytest.fixture
def rep(tenant):
    return _member(tenant, Role.REP, "rita_rep")


@pytest.fixture
def manager(tenant):
    return _member(tenant, Role.MANAGER, "max_manager")


@pytest.fixture
def admin(tenant):
    return _member(tenant, Role.ADMIN, "ada_admin")


@pytest.fixture
def outsider(other_tenant):
    """An admin of the other tenant: the strongest role, still sees nothing of ours."""
    return _member(other_tenant, Role.ADMIN, "otto_outsider")


@pytest.fixture
def rep_client(client, rep):
    client.force_login(rep)
    return client


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


@pytest.fixture
def admin_client_(client, admin):
    client.force_login(admin)
    return client


@pytest.fixture
def outsider_client(client, outsider):
    client.force_login(outsider)
    return client


def _real_clock_environment():
    """The environment without libfaketime: the browser keeps the real clock when the
    suite runs with the process clock moved (scripts/test.sh), as a user's browser would."""
    return {key: value for key, value in os.environ.items() if key != "LD_PRELOAD" and not key.startswith("FAKETIME")}


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "env": _real_clock_environment(),
        "executable_path": CHROMIUM,
        "args": [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
        ],
    }


# Every page of every browser test reports Content-Security-Policy violations here, so a
# future inline script, inline style or eval fails the suite instead of silently not running.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__reportCspViolation({
    directive: event.effectiveDirective, blocked: event.blockedURI, sample: event.sample,
    page: event.documentURI, source: event.sourceFile, line: event.lineNumber,
  });
});
"""


@pytest.fixture
def csp_violations():
    """The CSP violations the browser reported during this test (a browser test that
    provokes one on purpose empties the list once it has checked it)."""
    return []


@pytest.fixture
def context(context, csp_violations):
    context.expose_binding("__reportCspViolation", lambda _source, report: csp_violations.append(report))
    context.add_init_script(CSP_LISTENER)
    context.on("console", lambda message: csp_violations.append({"console": message.text})
               if message.type == "error" and "Content Security Policy" in message.text else None)
    yield context
    for open_page in context.pages:  # deliver reports still on their way
        try:
            open_page.evaluate("0")
        except Exception:  # a page that already closed has nothing left to deliver
            pass
    assert not csp_violations, f"Content-Security-Policy violations: {csp_violations}"


@pytest.fixture
def loopback_allowed(settings):
    """The local fake servers (model, SMTP, IMAP, SMS gateway) listen on 127.0.0.1 and
    stand in for hosts on the internet: the operator allow-list names loopback for this
    test only. Without this fixture the allow-list is empty, as in production."""
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    return settings.OUTBOUND_ALLOWED_HOSTS


@pytest.fixture
def server_secret(monkeypatch):
    """A value only the server holds, in a variable a tenant might try to name."""
    monkeypatch.setenv("EMAIL_HOST_PASSWORD", "canary-server-secret-7d41")
    return "canary-server-secret-7d41"


@pytest.fixture
def celery_eager():
    """Celery's loaded config ignores pytest's `settings` fixture: set it on the app."""
    from scendcore.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = previous


@pytest.fixture
def kicks(monkeypatch):
    """The processor sweeps and delivery runs that code asks for, recorded in order
    instead of sent to the broker."""
    from messaging import tasks as messaging_tasks
    from sequences import tasks as sequence_tasks

    asked = []
    monkeypatch.setattr(sequence_tasks.sweep, "delay", lambda *args, **kwargs: asked.append("sweep"))
    monkeypatch.setattr(messaging_tasks.deliver_due, "delay", lambda *args, **kwargs: asked.append("delivery"))
    return asked
