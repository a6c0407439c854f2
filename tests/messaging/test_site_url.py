"""Links in sent mail lead back to the app where it is actually served."""
import html as html_lib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from messaging.models import MessageState
from messaging.services.delivery import deliver_due, message_enqueue

from .conftest import make_message

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def site_url_when_served_on(port):
    """SITE_URL as a zero-config run on `port` derives it (settings load once per process)."""
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c",
         "from django.conf import settings; print(settings.SITE_URL)"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "scendcore.settings.base",
             "DEBUG": "true", "HOST": "127.0.0.1", "PORT": str(port)},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_every_link_of_a_message_sent_in_zero_config_mode_points_at_the_served_port(
        settings, tenant, sequence, smtp_server):
    settings.SITE_URL = site_url_when_served_on(9137)
    tenant.tracking_enabled = True
    tenant.save(update_fields=["tracking_enabled"])
    message_enqueue(message=make_message(
        tenant=tenant, sequence=sequence, state=MessageState.APPROVED,
        body_html='<p>See <a href="https://scendly.example/demo">the demo</a>.</p>'))
    deliver_due()

    sent = smtp_server.messages[-1]
    html = sent.get_body(preferencelist=("html",)).get_content()
    text = sent.get_body(preferencelist=("plain",)).get_content()
    header_link = re.search(r"<(https?://[^>]+)>", sent["List-Unsubscribe"]).group(1)
    html_links = [html_lib.unescape(u) for u in re.findall(r'(?:href|src)="([^"]+)"', html)]
    text_unsubscribe = re.search(r"Unsubscribe: (\S+)", text).group(1)
    pixel = [u for u in html_links if "/t/o/" in u]
    tracked = [u for u in html_links if "/t/c/" in u]
    unsubscribe = [u for u in html_links if "/u/" in u]

    assert pixel and tracked and unsubscribe
    for link in [header_link, text_unsubscribe, *html_links]:
        assert link.startswith("http://127.0.0.1:9137/"), link
