"""A rep builds seed 001's fast-track flow in the builder's outline, in Chromium: intro
email → branch on a click of "book-demo" within 3 days → tag "High Intent" → calendar
email; otherwise wait 3 days → case study email. What is stored is that graph."""
import pytest
from playwright.sync_api import expect

from contacts.models import Tag
from sequences.flow.navigator import Graph
from sequences.models import Step
from tests.browser.htmx import settled
from tests.factories import SequenceFactory, StepFactory


def _add_after(page, order, kind):
    settled(page)
    page.locator(f"#sequence-timeline li.seq-step >> nth={order - 1}").locator("select[name=type]").select_option(kind)
    page.get_by_role("button", name=f"Add a node after step {order}").click()
    expect(page.locator("#add-node-form")).to_be_visible()
    settled(page)
    return page.locator("#add-node-form")


def _submit(page, flash):
    page.locator("#add-node-form").get_by_role("button", name="Add node").click()
    expect(page.locator("#sequence-timeline").get_by_text(flash)).to_be_visible()
    settled(page)


@pytest.mark.browser
def test_rep_builds_the_fast_track_flow_in_the_outline(page, live_server, client, rep, tenant, other_tenant):
    Tag.objects.create(tenant=tenant, name="High Intent")
    Tag.objects.create(tenant=other_tenant, name="Outsider tag")
    sequence = SequenceFactory(tenant=tenant, name="Fast track")
    StepFactory(sequence=sequence, key="intro", title="Intro", order=1, delay_value=0, job_type="initial_outreach")
    client.force_login(rep)
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                               "url": live_server.url}])
    page.goto(f"{live_server.url}/sequences/{sequence.pk}/")
    steps = page.locator("#sequence-timeline li.seq-step")

    form = _add_after(page, 1, "message")
    form.locator("#add_node_name").fill("Calendar link")
    form.locator("#add_delay_value").fill("0")
    form.locator("#add_next_to").select_option(label="End the flow")
    _submit(page, "Step 2 added.")

    form = _add_after(page, 1, "action")
    form.locator("#add_action").select_option("add_tag")
    expect(form.locator("#add_tag option", has_text="Outsider tag")).to_have_count(0)
    form.locator("#add_tag").select_option(label="High Intent")
    _submit(page, "Step 2 added.")

    form = _add_after(page, 3, "wait")
    form.get_by_label("For a while").check()
    form.locator("#add_delay_value").fill("3")
    form.locator("#add_delay_unit").select_option("days")
    _submit(page, "Step 4 added.")

    form = _add_after(page, 4, "message")
    form.locator("#add_node_name").fill("Case study")
    form.locator("#add_delay_value").fill("0")
    _submit(page, "Step 5 added.")

    form = _add_after(page, 1, "branch")
    form.locator("#add_node_name").fill("Clicked demo?")
    form.locator("#add_r1_label").fill("Clicked demo")
    form.locator("#add_r1c1_kind").select_option("clicked")
    form.locator("#add_r1c1_node").select_option(label="Intro")
    form.locator("#add_r1c1_within_days").fill("3")
    form.locator("#add_r1c1_link_contains").fill("book-demo")
    form.locator("#add_r1_to").select_option(label="Tag High Intent")
    form.locator("#add_default_to").select_option(label="Wait 3 days")
    _submit(page, "Step 2 added.")

    expect(steps).to_have_count(6)
    branch_item = steps.nth(1)
    expect(branch_item).to_contain_text("If clicked 'book-demo' within 3 days → Tag High Intent")
    expect(branch_item).to_contain_text("Otherwise → Wait 3 days")
    expect(steps.nth(3)).to_contain_text("Then → End")

    nodes = list(Step.objects.filter(version_id=sequence.current_version_id).order_by("order"))
    graph = Graph(nodes)
    intro, branch, tag, calendar, wait, case = nodes
    assert [n.kind for n in nodes] == ["message", "branch", "action", "message", "wait", "message"]
    assert tag.config == {"action": "add_tag", "tag": Tag.objects.get(tenant=tenant).pk}
    assert branch.edges == [
        {"label": "Clicked demo", "to": tag.key,
         "condition": {"kind": "clicked", "node": "intro", "within_days": 3, "link_contains": "book-demo"}},
        {"label": "default", "to": wait.key},
    ]
    assert (wait.config, wait.delay_value, wait.delay_unit) == ({"mode": "duration"}, 3, "days")
    assert (calendar.title, case.title) == ("Calendar link", "Case study")
    assert graph.follow(intro) == branch
    assert graph.follow(tag) == calendar and graph.follow(calendar) is None
    assert graph.follow(wait) == case and graph.follow(case) is None
