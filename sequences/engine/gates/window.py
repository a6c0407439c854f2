"""The send window and business days, in the contact's time."""
from scendcore.gates import Held, Hold
from scendcore.zones import zone_label

from ...scheduling import contact_zone, defer_into_window, skip_weekend, step_window
from .wording import days_text, local

OUTSIDE = "outside the send window"
WEEKEND = "business days only"


class WindowGate:
    name = "window"
    order = 10
    recheck_at_send = True

    def applies(self, attempt):
        return attempt.step is not None

    def prepare(self, attempts, *, now, phase):
        # Verdicts depend on (step, contact's zone, tenant) and the batch's one `now`, not
        # on the row: most rows of a batch share one answer.
        return {}

    def hold(self, memo, attempt, *, now):
        key = (attempt.step.id, attempt.contact.timezone, attempt.tenant.id)
        if key not in memo:
            memo[key] = self._held(attempt, now)
        return memo[key]

    def _held(self, attempt, now):
        step, contact, tenant = attempt.step, attempt.contact, attempt.tenant
        opens = defer_into_window(when=now, step=step, contact=contact, tenant=tenant)
        if opens <= now:
            return None
        local_now = now.astimezone(contact_zone(contact, tenant))
        if step.business_days_only and skip_weekend(local_now) != local_now:
            return Held(opens, WEEKEND)
        return Held(opens, OUTSIDE)

    def consume(self, memo, attempt, *, now):
        pass

    def explain(self, attempt, *, now, release):
        step, contact, tenant = attempt.step, attempt.contact, attempt.tenant
        zone = contact_zone(contact, tenant)
        window = step_window(step, tenant)
        if window:
            days, start, end = window
            text = f"Send window: {days_text(days)} {start:%H:%M}–{end:%H:%M} in the contact's time ({zone_label(zone, now)})"
            if step.business_days_only:
                text += ", business days only"
        elif step.business_days_only:
            text = "Business days only (no weekends in the contact's time)"
        else:
            return None
        held = self._held(attempt, now)
        if held is None:
            return Hold(self.name, text + ".")
        return Hold(self.name, f"{text}: it is outside the window then, so it waits until {local(release(held), zone)}.",
                    active=True, until=release(held))
