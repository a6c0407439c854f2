"""Demo data for messaging: one mailbox sending through a local SMTP catcher
(127.0.0.1:1025, no TLS; e.g. `python -m aiosmtpd -n -l 127.0.0.1:1025`) and a pool."""
from .models import Mailbox, MailboxPool, PoolMember


def seed(*, tenant, users):
    mailbox, _ = Mailbox.objects.get_or_create(
        tenant=tenant, from_email=f"outreach@{tenant.slug}.example",
        defaults=dict(
            # The signature signs only mail whose agent persona does not (agents.drafting.signoff),
            # under this From name: it names the same team and company.
            name="Demo mailbox", from_name=f"{tenant.name} Sales", smtp_host="127.0.0.1", smtp_port=1025,
            tls_mode="none", daily_cap=200, hourly_cap=50,
            signature=f"{tenant.name} Sales\n{tenant.slug}.example",
        ),
    )
    pool, _ = MailboxPool.objects.get_or_create(tenant=tenant, name="Demo pool")
    PoolMember.objects.get_or_create(pool=pool, mailbox=mailbox, defaults={"weight": 1})
    return {"mailbox": mailbox, "pool": pool}
