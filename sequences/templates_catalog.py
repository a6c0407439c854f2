"""Built-in sequence templates: ready-made cadences a rep can start from.

Each step lists what the builder would store on a Step; the overrides (angle, CTA,
value proposition) are hints for the drafting agent, not copy. Delays follow the
product guide: the first step counts from enrollment, later ones from the previous step.
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

BY_KEY = {template.key: template for template in CATALOG}


def get(key):
    """The template with this key, or None."""
    return BY_KEY.get(key)
