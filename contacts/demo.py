"""Demo contacts for a fresh workspace: a few hundred realistic, deterministic people
(the same every run), owned by the demo rep and manager, with tags and two lists.

Idempotent: contacts are keyed by email, lists by name; a second run adds nothing."""
import random

from django.db.models.functions import Lower

from .models import Contact, ContactList, LeadStatus, ListMembership, ScoreBand, Tag

DEFAULT_COUNT = 300

FIRST_NAMES = [
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "James", "Isabella", "Lucas",
    "Mia", "Mateo", "Amelia", "Benjamin", "Harper", "Henry", "Evelyn", "Theodore", "Priya", "Arjun",
    "Chloe", "Daniel", "Grace", "Samuel", "Zoe", "David", "Nora", "Jack", "Hannah", "Owen",
    "Sofia", "Leo", "Aisha", "Omar", "Mei", "Kenji", "Ingrid", "Lars", "Camille", "Julien",
    "Lena", "Felix", "Clara", "Jonas", "Lucia", "Pablo", "Marta", "Tomasz", "Agnieszka", "Siobhan",
    "Ciaran", "Freya", "Oskar", "Elif", "Daan", "Sanne", "Rafael", "Beatriz", "Nadia", "Victor",
]
LAST_NAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Lee",
    "Patel", "Nguyen", "Kim", "Chen", "Okafor", "Walker", "Hall", "Young", "Wright", "Scott",
    "Murphy", "O'Brien", "Kelly", "Schmidt", "Müller", "Fischer", "Weber", "Dubois", "Laurent",
    "Moreau", "Fernández", "García-Ruiz", "Rossi", "Bianchi", "Jansen", "de Vries", "Nowak",
    "Kowalski", "Andersson", "Lindqvist", "Hansen", "Nielsen", "Novak", "Silva", "Costa", "Yilmaz",
]
# (company, email domain, industry, region)
COMPANIES = [
    ("Northwind Logistics", "northwind-logistics.example", "Logistics", "us_east"),
    ("Brightpath Health", "brightpath-health.example", "Healthcare", "us_east"),
    ("Cobalt Ridge Capital", "cobaltridge.example", "Financial services", "us_east"),
    ("Harborview Insurance", "harborview-ins.example", "Insurance", "us_east"),
    ("Summit Freight", "summitfreight.example", "Logistics", "us_central"),
    ("Prairie Analytics", "prairie-analytics.example", "Software", "us_central"),
    ("Lakeshore Manufacturing", "lakeshore-mfg.example", "Manufacturing", "us_central"),
    ("Lone Star Energy Partners", "lonestar-energy.example", "Energy", "us_central"),
    ("Redrock Outdoor", "redrock-outdoor.example", "Retail", "us_mountain"),
    ("Alpine Data Systems", "alpinedata.example", "Software", "us_mountain"),
    ("Mesa Solar", "mesasolar.example", "Energy", "us_mountain"),
    ("Pacific Crest Biotech", "pacificcrest-bio.example", "Biotech", "us_west"),
    ("Golden Gate Robotics", "ggrobotics.example", "Hardware", "us_west"),
    ("Cascade Cloudworks", "cascadecloud.example", "Software", "us_west"),
    ("Sierra Learning", "sierralearning.example", "Education", "us_west"),
    ("Bayline Fintech", "bayline.example", "Financial services", "us_west"),
    ("Evergreen Foods", "evergreenfoods.example", "Food & beverage", "us_west"),
    ("Thames Digital", "thamesdigital.example", "Marketing", "uk"),
    ("Kingsbridge Legal", "kingsbridge-legal.example", "Legal services", "uk"),
    ("Albion Retail Group", "albion-retail.example", "Retail", "uk"),
    ("Liffey Software", "liffey-software.example", "Software", "ie"),
    ("Spree Mobility", "spree-mobility.example", "Automotive", "de"),
    ("Rheinwerk Industrie", "rheinwerk.example", "Manufacturing", "de"),
    ("Isar Health Tech", "isar-health.example", "Healthcare", "de"),
    ("Lumière Cosmetics", "lumiere-cosmetics.example", "Consumer goods", "fr"),
    ("Seine Analytics", "seine-analytics.example", "Software", "fr"),
    ("Canal Street Media", "canalmedia.example", "Media", "nl"),
    ("Tulip Payments", "tulip-payments.example", "Financial services", "nl"),
    ("Meseta Renewables", "meseta-renewables.example", "Energy", "es"),
    ("Nordlys Gaming", "nordlys.example", "Gaming", "se"),
    ("Fjord Maritime", "fjordmaritime.example", "Logistics", "se"),
    ("Vistula Devworks", "vistula-dev.example", "Software", "pl"),
]
ZONES = {
    "us_east": ["America/New_York", "America/New_York", "America/Detroit"],
    "us_central": ["America/Chicago"],
    "us_mountain": ["America/Denver", "America/Phoenix"],
    "us_west": ["America/Los_Angeles"],
    "uk": ["Europe/London"],
    "ie": ["Europe/Dublin"],
    "de": ["Europe/Berlin"],
    "fr": ["Europe/Paris"],
    "nl": ["Europe/Amsterdam"],
    "es": ["Europe/Madrid"],
    "se": ["Europe/Stockholm"],
    "pl": ["Europe/Warsaw"],
}
PHONE_PREFIX = {
    "us_east": "+1212555", "us_central": "+1312555", "us_mountain": "+1303555", "us_west": "+1415555",
    "uk": "+447700900", "ie": "+353855", "de": "+4915155", "fr": "+33655", "nl": "+31655",
    "es": "+34655", "se": "+46705", "pl": "+48505",
}
TITLES = [
    "VP of Sales", "Head of Sales", "Sales Director", "Director of Revenue Operations",
    "Chief Revenue Officer", "Head of Growth", "VP Marketing", "Demand Generation Manager",
    "Sales Operations Manager", "Account Executive", "Business Development Manager", "COO",
    "CEO", "Founder", "Head of Partnerships", "Customer Success Director", "CTO",
    "Head of Procurement", "Marketing Operations Lead", "Regional Sales Manager",
]
LAST_EVENTS = [
    "Downloaded the outbound playbook", "Attended the webinar 'Pipeline in 30 days'",
    "Visited the pricing page twice", "Requested a demo, then went quiet", "Met us at SaaStr Europa",
    "Opened the Q2 newsletter", "Trial account expired", "Replied 'not now' in March",
    "Referred by a customer", "Starred our case study on LinkedIn", "",
]
TAGS = ["webinar", "inbound", "conference", "champion", "enterprise", "trial"]
LIST_WEBINAR = "Webinar attendees — Pipeline in 30 days"
LIST_HOT = "Hot leads — Q4 push"

STATUS_WEIGHTS = [
    (LeadStatus.NEW, 40), (LeadStatus.CONTACTED, 30), (LeadStatus.QUALIFIED, 18),
    (LeadStatus.CONVERTED, 6), (LeadStatus.DISQUALIFIED, 6),
]
BAND_WEIGHTS = [(ScoreBand.COLD, 45), (ScoreBand.WARM, 38), (ScoreBand.HOT, 17)]


def _pick(rng, weighted):
    values, weights = zip(*weighted)
    return rng.choices(values, weights=weights, k=1)[0]


def _email_local(first, last):
    keep = "abcdefghijklmnopqrstuvwxyz"
    table = str.maketrans("äöüéèàáíóúñçøå", "aoueeaaiouncoa")
    clean = lambda s: "".join(ch for ch in s.lower().translate(table) if ch in keep)  # noqa: E731
    return f"{clean(first)}.{clean(last)}"


def demo_people(*, count=DEFAULT_COUNT, seed="acme"):
    """The rows as plain dicts, the same for the same `count` and `seed`."""
    rng = random.Random(f"scendcore-demo-{seed}")
    people, seen = [], set()
    while len(people) < count:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company, domain, industry, region = rng.choice(COMPANIES)
        email = f"{_email_local(first, last)}@{domain}"
        if email in seen:
            continue
        seen.add(email)
        custom = {"industry": industry}
        event = rng.choice(LAST_EVENTS)
        if event:
            custom["last_event"] = event
        if rng.random() < 0.4:
            custom["employees"] = rng.choice(["11-50", "51-200", "201-1000", "1000+"])
        people.append({
            "email": email,
            "first_name": first,
            "last_name": last,
            "company": company,
            "title": rng.choice(TITLES),
            "timezone": rng.choice(ZONES[region]),
            "phone": f"{PHONE_PREFIX[region]}{rng.randrange(100, 1000)}" if rng.random() < 0.55 else "",
            "lead_status": _pick(rng, STATUS_WEIGHTS),
            "score_band": _pick(rng, BAND_WEIGHTS),
            "custom_fields": custom,
            "tags": sorted(rng.sample(TAGS, k=rng.choice([0, 0, 0, 1, 1, 2]))),
            "owner_slot": "manager" if rng.random() < 0.3 else "rep",
        })
    return people


def seed(*, tenant, users, count=DEFAULT_COUNT):
    """Create the demo contacts, tags and two lists in `tenant`. `users` maps "rep",
    "manager" (and "admin") to users; contacts are owned by the rep and the manager."""
    people = demo_people(count=count, seed=tenant.slug)
    owners = {"rep": users.get("rep") or users.get("admin"), "manager": users.get("manager") or users.get("admin")}
    existing = set(
        Contact.objects.filter(tenant=tenant).annotate(e=Lower("email")).values_list("e", flat=True)
    )
    Contact.objects.bulk_create(
        [
            Contact(
                tenant=tenant, owner=owners[p["owner_slot"]], source="demo",
                **{k: v for k, v in p.items() if k not in ("tags", "owner_slot")},
            )
            for p in people if p["email"] not in existing
        ],
        batch_size=500,
    )
    by_email = {
        c.email.lower(): c
        for c in Contact.objects.filter(tenant=tenant, email__in=[p["email"] for p in people])
    }

    tags = {}
    for name in TAGS:
        tags[name], _ = Tag.objects.get_or_create(tenant=tenant, name=name)
    Contact.tags.through.objects.bulk_create(
        [
            Contact.tags.through(contact_id=by_email[p["email"]].pk, tag_id=tags[name].pk)
            for p in people for name in p["tags"]
        ],
        ignore_conflicts=True,
    )

    creator = users.get("rep") or users.get("admin")
    webinar, _ = ContactList.objects.get_or_create(tenant=tenant, name=LIST_WEBINAR, defaults={"created_by": creator})
    hot, _ = ContactList.objects.get_or_create(tenant=tenant, name=LIST_HOT, defaults={"created_by": creator})
    members = [(webinar, p) for p in people if "webinar" in p["tags"] or p["custom_fields"].get("last_event", "").startswith("Attended")]
    members += [(hot, p) for p in people if p["score_band"] == ScoreBand.HOT and p["lead_status"] in ("new", "contacted", "qualified")]
    ListMembership.objects.bulk_create(
        [ListMembership(contact_list=lst, contact=by_email[p["email"]]) for lst, p in members],
        ignore_conflicts=True,
    )
    return {"contacts": list(by_email.values()), "lists": [webinar, hot], "tags": list(tags.values())}
