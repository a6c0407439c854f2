"""Demo agents for a fresh workspace: one that asks for review, one that sends on its own."""
from .models import Agent, Autonomy, Provider

REVIEWER = {
    "sender_name": "Morgan Reyes", "sender_title": "Account Executive",
    "company_description": "an outreach platform that helps B2B sales teams book more qualified meetings",
    "tone": "warm, concise, specific; no hype", "avoid": "guarantees, discounts, competitor names",
    "autonomy": Autonomy.REVIEW_ALL, "provider": Provider.TEMPLATE,
    "fallbacks": {"first_name": "there", "company": "your team", "custom.industry": "your industry"},
}
AUTO_SENDER = {
    "sender_name": "Jamie Park", "sender_title": "Customer Success Lead",
    "company_description": "an outreach platform that keeps follow-ups on time without extra work",
    "tone": "friendly and brief", "avoid": "pricing, guarantees",
    "autonomy": Autonomy.AUTO_SEND, "provider": Provider.TEMPLATE,
    "fallbacks": {"first_name": "there", "company": "your team"},
}


def seed(*, tenant, users):
    """Idempotent: agents are found by name and left as they are when they exist. Each
    persona works for the demo workspace's own company, the one its mail signs for."""
    company = {"company_name": tenant.name}
    reviewer, _ = Agent.objects.get_or_create(tenant=tenant, name="Morgan (review every draft)",
                                              defaults={**REVIEWER, **company})
    auto, _ = Agent.objects.get_or_create(tenant=tenant, name="Jamie (sends follow-ups)",
                                          defaults={**AUTO_SENDER, **company})
    return [reviewer, auto]
