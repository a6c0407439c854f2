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
            angle="A short, relevant introduction tied to their role and company",
            cta="Ask whether this is a priority for them this quarter",
            value_proposition="We help teams like theirs book more qualified meetings",
        ),
        TemplateStep(
            "follow_up", 3, business_days_only=True,
            angle="Lead with a concrete result a similar company achieved",
            cta="Offer to share the two-minute version of how it works",
            value_proposition="Measurable pipeline gains without extra headcount",
        ),
        TemplateStep(
            "follow_up", 4, business_days_only=True,
            angle="Be direct and respectful of their time",
            cta="Ask for 15 minutes next week and suggest two time slots",
            value_proposition="A quick call shows whether we can help, with no obligation",
        ),
    ),
    _t(
        "follow_up_series", "Follow-Up Series", "Check-in and a final nudge.",
        "Contacts you have already spoken to who went quiet after a call or demo.",
        TemplateStep(
            "follow_up", 0,
            angle="Friendly check-in referring to the last conversation",
            cta="Ask if they had a chance to look at what you shared",
            value_proposition="Remind them of the main benefit they cared about",
        ),
        TemplateStep(
            "follow_up", 4, business_days_only=True,
            angle="Final, low-pressure nudge",
            cta="Ask whether to close the loop for now or reconnect next month",
        ),
    ),
    _t(
        "re_engagement", "Re-Engagement", "Reach back out to contacts gone cold.",
        "Old leads and past trials that stopped responding months ago.",
        TemplateStep(
            "re_engagement", 0,
            angle="Something new since you last spoke: a release, a customer story or an insight",
            cta="Ask if the problem is still on their radar",
            value_proposition="What has changed that makes it worth another look",
        ),
        TemplateStep(
            "re_engagement", 5, business_days_only=True,
            angle="Short and human; acknowledge that timing may not be right",
            cta="Offer a useful resource, or ask who else owns this now",
        ),
    ),
    _t(
        "meeting_request", "Meeting Request", "One direct ask for a meeting.",
        "High-intent leads: demo requests, pricing page visits, warm referrals.",
        TemplateStep(
            "initial_outreach", 0,
            angle="Reference their interest and get straight to the point",
            cta="Propose a 20-minute call and offer two concrete time slots",
            value_proposition="A tailored walkthrough for their use case",
            subject_template="Quick call, {{first_name}}?",
        ),
    ),
    _t(
        "saas_trial", "SaaS Trial", "Welcome, feature highlight, case study, expiry warning, offer.",
        "New trial sign-ups you want to convert to paid customers.",
        TemplateStep(
            "initial_outreach", 0,
            angle="Warm welcome and the single most useful first step",
            cta="Point them to the one setup task that shows value fastest",
            value_proposition="Value within the first day of the trial",
            subject_template="Welcome aboard, {{first_name}}",
        ),
        TemplateStep(
            "follow_up", 2,
            angle="Highlight one feature that teams like theirs love",
            cta="Invite them to try it today",
            value_proposition="Saves hours every week",
        ),
        TemplateStep(
            "follow_up", 3,
            angle="A short case study from a company similar to theirs",
            cta="Offer a quick call to plan their rollout",
            value_proposition="Proof from a peer company",
        ),
        TemplateStep(
            "follow_up", 5,
            angle="Their trial ends soon; recap what they would lose",
            cta="Ask if they want help choosing a plan",
            value_proposition="Keep their data and setup without interruption",
        ),
        TemplateStep(
            "follow_up", 2,
            angle="A time-limited offer to make the decision easy",
            cta="Reply to claim the offer before it expires",
            value_proposition="A discount on the first year",
        ),
    ),
    _t(
        "webinar_promo", "Webinar Promo", "Invite, two reminders, join link, replay.",
        "Driving registrations and attendance for a live session.",
        TemplateStep(
            "initial_outreach", 0,
            angle="Invite them to the webinar and name what they will learn",
            cta="Ask them to save their seat",
            value_proposition="Practical takeaways in 45 minutes",
        ),
        TemplateStep(
            "follow_up", 7,
            angle="One week to go: reminder with the agenda",
            cta="Add it to their calendar",
        ),
        TemplateStep(
            "follow_up", 6,
            angle="Tomorrow: short reminder with the speaker and one teaser",
            cta="Confirm they will attend",
        ),
        TemplateStep(
            "follow_up", 23, delay_unit="hours",
            angle="Starting within the hour: the join link, nothing else",
            cta="Join the session",
        ),
        TemplateStep(
            "follow_up", 1,
            angle="The replay for those who missed it, plus the key slide",
            cta="Watch the replay and reply with questions",
            value_proposition="Everything from the session in one link",
        ),
    ),
    _t(
        "cold_outreach_breakup", "Cold Outreach with breakup",
        "Value prop, two follow-ups, a polite breakup email.",
        "Outbound to prospects where a clear final message gets the most replies.",
        TemplateStep(
            "initial_outreach", 0,
            angle="Lead with the value proposition for their role",
            cta="Ask if it is worth a short conversation",
            value_proposition="More meetings from the same pipeline",
        ),
        TemplateStep(
            "follow_up", 3, business_days_only=True,
            angle="Share a short proof point or customer quote",
            cta="Offer a 15-minute call",
        ),
        TemplateStep(
            "follow_up", 4, business_days_only=True,
            angle="Address a likely objection in one sentence",
            cta="Ask who the right person is if it is not them",
        ),
        TemplateStep(
            "follow_up", 7, business_days_only=True,
            angle="Breakup: polite, final, no guilt",
            cta="Ask whether to close their file or check back in a few months",
        ),
    ),
)

BY_KEY = {template.key: template for template in CATALOG}


def get(key):
    """The template with this key, or None."""
    return BY_KEY.get(key)
