"""Which contacts a member may see and act on: the one rule behind the contact access
helper, the contact selectors, every bulk action, the enrollment lists, tasks, imports
and the API.

Managers and admins see every contact of their workspace. Reps do too, unless the
workspace's admins turn on "reps see only their own contacts"
(Tenant.reps_see_only_own_contacts); a rep then sees only the contacts they own, and a
colleague's contact answers 404 exactly like another workspace's."""
from django.db.models import Q


def restricted_owner_id(membership):
    """The user whose contacts alone `membership` may see, or None when it sees them all
    (a manager, a rep of a workspace that shares contacts, or no member at all: work the
    system does on its own)."""
    if membership is None or membership.is_manager or not membership.tenant.reps_see_only_own_contacts:
        return None
    return membership.user_id


def contact_scope(membership, *, path=""):
    """A filter for rows whose contact (reached through `path`, e.g. "contact__") the
    member may see."""
    owner_id = restricted_owner_id(membership)
    return Q() if owner_id is None else Q(**{f"{path}owner_id": owner_id})


def may_see(membership, contact):
    owner_id = restricted_owner_id(membership)
    return owner_id is None or contact.owner_id == owner_id


def import_scope(membership):
    """Imports hold a whole uploaded file of people: a rep who sees only their own
    contacts sees only the imports they started."""
    owner_id = restricted_owner_id(membership)
    return Q() if owner_id is None else Q(created_by_id=owner_id)
