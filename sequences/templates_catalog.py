"""Built-in sequence templates: ready-made cadences a rep can start from.

Each step lists what the builder would store on a Step; the overrides (angle, CTA,
value proposition) are hints for the drafting agent, not copy. Delays follow the
product guide: the first step counts from enrollment, later ones from the previous step.

Flow templates (FLOWS) are written as definition documents (sequences.flow.definition),
the format the API takes: nodes with keys, types, settings and edges. A tag they name
("tag": "High Intent") is the workspace's tag of that name, created when the sequence is.
"""
from dataclasses import dataclass, field


@dataclass(frozen=True)
class TemplateStep:
    job_type: str
    delay_value: int
    delay_unit: str = "days"
    channel: str = "email"
    business_days_only: bool = False
    angle: str = ""
    cta: str = ""
    value_proposition: str = ""
    subject_template: str = ""


@dataclass(frozen=True)
class SequenceTemplate:
    key: str
    name: str
    summary: str
    best_for: str
    steps: tuple = field(default_factory=tuple)
    is_flow = False


def _t(key, name, summary, best_for, *steps):
    return SequenceTemplate(key=key, name=name, summary=summary, best_for=best_for, steps=tuple(steps))


CATALOG = (
    _t(
        "cold_outreach", "Cold Outreach", "Intro, value prop, call to action.",
        "First touch with new prospects who have never heard from you.",
        TemplateStep(
            "initial_outreach", 0,
            angle="how their team turns outbound into booked meetings",
            cta="Is growing pipeline a priority for them this quarter?",
            value_proposition="we help teams like theirs book more qualified meetings",
        ),
        TemplateStep(
            "follow_up", 3, business_days_only=True,
            angle="a result a company much like theirs got in its first quarter",
            cta="Would a two-minute summary of how it works be useful?",
            value_proposition="that company added pipeline without adding headcount",
        ),
        TemplateStep(
            "follow_up", 4, business_days_only=True,
            angle="whether this is worth their time at all",
            cta="Could we find 15 minutes next week, say Tuesday or Thursday morning?",
            value_proposition="a short call will show whether we can help, with no obligation",
        ),
    ),
    _t(
        "follow_up_series", "Follow-Up Series", "Check-in and a final nudge.",
        "Contacts you have already spoken to who went quiet after a call or demo.",
        TemplateStep(
            "follow_up", 0,
            angle="our last conversation",
            cta="Did they get a chance to look at what I sent over?",
            value_proposition="the piece they cared about most is ready to try",
        ),
        TemplateStep(
            "follow_up", 4, business_days_only=True,
            angle="one last thing before I close the loop",
            cta="Should I close the loop for now, or reconnect next month?",
        ),
    ),
    _t(
        "re_engagement", "Re-Engagement", "Reach back out to contacts gone cold.",
        "Old leads and past trials that stopped responding months ago.",
        TemplateStep(
            "re_engagement", 0,
            angle="what has changed on our side since we last spoke",
            cta="Is this still on their radar?",
            value_proposition="a few things have changed that make it worth another look",
        ),
        TemplateStep(
            "re_engagement", 5, business_days_only=True,
            angle="a story I heard from a team much like theirs",
            cta="Is someone else looking after this now?",
        ),
    ),
    _t(
        "meeting_request", "Meeting Request", "One direct ask for a meeting.",
        "High-intent leads: demo requests, pricing page visits, warm referrals.",
        TemplateStep(
            "initial_outreach", 0,
            angle="the interest they showed recently",
            cta="Would a 20-minute call on Tuesday or Wednesday afternoon work?",
            value_proposition="I can walk them through it for their exact use case",
            subject_template="Quick call, {{first_name}}?",
        ),
    ),
    _t(
        "saas_trial", "SaaS Trial", "Welcome, feature highlight, case study, expiry warning, offer.",
        "New trial sign-ups you want to convert to paid customers.",
        TemplateStep(
            "initial_outreach", 0,
            angle="the single most useful first step in their trial",
            cta="Shall I send the five-minute setup guide?",
            value_proposition="most teams see value on the first day",
            subject_template="Welcome aboard, {{first_name}}",
        ),
        TemplateStep(
            "follow_up", 2,
            angle="the one feature teams like theirs use most",
            cta="Would they like to try it today?",
            value_proposition="it saves hours every week",
        ),
        TemplateStep(
            "follow_up", 3,
            angle="how a company similar to theirs rolled it out",
            cta="Would a quick call to plan their rollout help?",
            value_proposition="a peer company got there in two weeks",
        ),
        TemplateStep(
            "follow_up", 5,
            angle="their trial, which ends soon",
            cta="Can I help them choose a plan?",
            value_proposition="they keep their data and setup without interruption",
        ),
        TemplateStep(
            "follow_up", 2,
            angle="an offer that makes the decision easy",
            cta="Shall I hold the offer for them before it expires?",
            value_proposition="the first year comes at a discount",
        ),
    ),
    _t(
        "webinar_promo", "Webinar Promo", "Invite, two reminders, join link, replay.",
        "Driving registrations and attendance for a live session.",
        TemplateStep(
            "initial_outreach", 0,
            angle="our upcoming webinar and what they will learn",
            cta="Shall I save them a seat?",
            value_proposition="it is 45 minutes of practical takeaways",
        ),
        TemplateStep(
            "follow_up", 7,
            angle="the webinar agenda, one week out",
            cta="Is it in their calendar?",
        ),
        TemplateStep(
            "follow_up", 6,
            angle="tomorrow's webinar and its speaker",
            cta="Will they be joining us?",
        ),
        TemplateStep(
            "follow_up", 23, delay_unit="hours",
            angle="the webinar, starting within the hour",
            cta="See them there?",
        ),
        TemplateStep(
            "follow_up", 1,
            angle="the webinar replay and its key slide",
            cta="Any questions after watching the replay?",
            value_proposition="everything from the session is in one link",
        ),
    ),
    _t(
        "cold_outreach_breakup", "Cold Outreach with breakup",
        "Value prop, two follow-ups, a polite breakup email.",
        "Outbound to prospects where a clear final message gets the most replies.",
        TemplateStep(
            "initial_outreach", 0,
            angle="what we do for people in their role",
            cta="Is it worth a short conversation?",
            value_proposition="our customers get more meetings from the same pipeline",
        ),
        TemplateStep(
            "follow_up", 3, business_days_only=True,
            angle="what one customer told us last month",
            cta="Could we take 15 minutes this week?",
        ),
        TemplateStep(
            "follow_up", 4, business_days_only=True,
            angle="the most common concern we hear, and our answer",
            cta="If this is not for them, who would be the right person?",
        ),
        TemplateStep(
            "follow_up", 7, business_days_only=True,
            angle="my last note on this",
            cta="Should I close their file, or check back in a few months?",
        ),
    ),
)



@dataclass(frozen=True)
class FlowTemplate:
    key: str
    name: str
    summary: str
    best_for: str
    document: dict = field(default_factory=dict)
    is_flow = True

    @property
    def nodes(self):
        return self.document["nodes"]


def _email(key, title, job_type, delay_value, *, edges=None, **hints):
    node = {"key": key, "type": "message", "title": title,
            "settings": {"channel": "email", "job_type": job_type, "delay_value": delay_value, "delay_unit": "days",
                         **hints}}
    if edges is not None:
        node["edges"] = edges
    return node


def _end():
    return [{"label": "next", "to": None}]


FAST_TRACK = FlowTemplate(
    "fast_track_demo", "Fast-track demo clicks",
    "Intro; whoever clicks “Book a demo” within 3 days is tagged High Intent and gets a calendar email, "
    "everyone else a case study.",
    "Inbound leads where a demo click is the clearest buying signal.",
    {
        "goals": [{"key": "booked-meeting", "name": "Booked meeting", "condition": {"kind": "meeting_booked"},
                   "action": "exit"}],
        "exit_rules": {},
        "nodes": [
            _email("intro", "Product intro", "initial_outreach", 0,
                   angle="what the product does for a team like theirs, with a link to book a demo",
                   cta="Would a 20-minute demo be useful? They can pick a time on the book-demo page.",
                   value_proposition="they see it working on their own use case"),
            {"key": "wait-for-click", "type": "wait", "title": "Up to 3 days for a demo click",
             "settings": {"mode": "event",
                          "event": {"kind": "clicked", "link_contains": "book-demo", "relative_to": "intro"},
                          "timeout": {"value": 3, "unit": "days"}},
             "edges": [{"label": "next", "to": "clicked-demo"}]},
            {"key": "clicked-demo", "type": "branch", "title": "Clicked “Book demo”?",
             "edges": [
                 {"label": "Clicked demo", "to": "tag-high-intent",
                  "condition": {"kind": "clicked", "node": "intro", "within_days": 3, "link_contains": "book-demo"}},
                 {"label": "default", "to": "case-study"},
             ]},
            {"key": "tag-high-intent", "type": "action", "title": "Tag “High Intent”",
             "settings": {"action": "add_tag", "tag": "High Intent"},
             "edges": [{"label": "next", "to": "calendar"}]},
            _email("calendar", "Calendar link", "follow_up", 0, edges=_end(),
                   angle="the demo they were looking at booking",
                   cta="Which of the times on my calendar suits them best?",
                   value_proposition="the demo is tailored to their team"),
            _email("case-study", "Case study", "follow_up", 0, edges=_end(),
                   angle="how a company much like theirs got results in its first quarter",
                   cta="Would a short call on how they did it be useful?",
                   value_proposition="a peer company saw results within weeks"),
        ],
    },
)

# Seed 002's suggested defaults: exit on a positive reply (and on conversion or
# disqualification); at most 6 messages over 21 days; at most one message per 48 h, which
# is the workspace's frequency cap (Tenant.frequency_cap_*, across all sequences; there
# is no per-sequence cap), so every step here is at least two days after the one before.
NURTURE = FlowTemplate(
    "lead_nurture", "Lead Nurture",
    "Five emails and a check-in call over 19 days; a positive reply, conversion or disqualification ends it.",
    "Qualified leads who are not ready to buy yet.",
    {
        "goals": [],
        "exit_rules": {"reply": "exit_positive", "conversion": True, "disqualification": True},
        "nodes": [
            _email("welcome", "Welcome", "initial_outreach", 0,
                   angle="the problem they told us they are working on",
                   cta="Is this still a priority for them this quarter?",
                   value_proposition="we help teams like theirs solve it without extra headcount"),
            _email("insight", "A useful insight", "follow_up", 3, business_days_only=True,
                   angle="one practical idea they can use this week",
                   cta="Would more ideas like this be useful?"),
            _email("case-study", "Case study", "follow_up", 4,
                   angle="how a company much like theirs solved the same problem",
                   cta="Would a short summary of how they did it help?",
                   value_proposition="a peer company got there in weeks"),
            {"key": "check-in-call", "type": "task", "title": "Check-in call",
             "settings": {"delay_value": 3, "delay_unit": "days", "outcomes": ["connected", "no answer", "not now"],
                          "body_template": "Call to hear where they are. Ask what would make now the right "
                                           "time, and record the outcome."},
             "edges": [{"label": "not now", "to": None}, {"label": "next", "to": "offer"}]},
            _email("offer", "Offer", "follow_up", 4,
                   angle="an offer that makes starting easy",
                   cta="Shall I hold it for them this month?",
                   value_proposition="the first months come at a lower price"),
            _email("last-note", "Last note", "follow_up", 5, edges=_end(),
                   angle="my last note for now",
                   cta="Should I check back in a few months instead?"),
        ],
    },
)

RE_ENGAGEMENT_FLOW = FlowTemplate(
    "re_engagement_flow", "Re-Engagement by opens",
    "One email, then up to 7 days for an open: openers get a follow-up, the others a last try.",
    "Cold leads where an open shows who is still listening.",
    {
        "goals": [],
        "exit_rules": {"reply": "exit"},
        "nodes": [
            _email("reconnect", "Reconnect", "re_engagement", 0,
                   angle="what has changed on our side since we last spoke",
                   cta="Is this still on their radar?",
                   value_proposition="a few things have changed that make it worth another look"),
            {"key": "wait-for-open", "type": "wait", "title": "Up to 7 days for an open",
             "settings": {"mode": "event", "event": {"kind": "opened", "relative_to": "reconnect"},
                          "timeout": {"value": 7, "unit": "days"}},
             "edges": [{"label": "event", "to": "opened-follow-up"}, {"label": "timeout", "to": "last-try"}]},
            _email("opened-follow-up", "Follow-up for openers", "follow_up", 1, edges=_end(),
                   angle="the one change most relevant to them",
                   cta="Would a quick look at it be worth 15 minutes?"),
            _email("last-try", "Last try", "re_engagement", 0, edges=_end(),
                   angle="a story I heard from a team much like theirs",
                   cta="Is someone else looking after this now?"),
        ],
    },
)

FLOWS = (FAST_TRACK, NURTURE, RE_ENGAGEMENT_FLOW)

BY_KEY = {template.key: template for template in CATALOG + FLOWS}


def get(key):
    """The template with this key, or None."""
    return BY_KEY.get(key)
