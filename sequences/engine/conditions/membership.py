"""Conditions on what the contact belongs to: a tag, a list. One query per family for a
batch: the referenced tags (or lists) with, joined, which of the batch's contacts hold
them, so a tag deleted since the node was saved, or one of another workspace, is known
as such and never matches."""
from django.db.models import FilteredRelation, Q

from contacts.models import ContactList, Tag

from . import Outcome


def _object_id(value):
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


class _Membership:
    model = None
    field = ""  # the leaf's reference ("tag", "list")
    flag = ""  # the leaf's wanted answer ("has", "member")
    relation = ""  # the related contacts, for FilteredRelation
    contact_column = ""

    def problems(self, leaf, *, tenant, earlier_message_keys):
        found = []
        pk = _object_id(leaf.get(self.field))
        if pk is None or not self.model.objects.filter(tenant=tenant, pk=pk).exists():
            found.append(f"No such {self.field} in this workspace.")
        if not isinstance(leaf.get(self.flag, True), bool):
            found.append(f"“{self.flag}” is true or false.")
        return found

    def evaluate(self, pairs, *, context):
        ids = {_object_id(leaf.get(self.field)) for _, leaf in pairs} - {None}
        contact_ids = sorted({e.contact_id for e, _ in pairs})
        found, holders = {}, set()
        if ids:
            rows = (
                self.model.objects.annotate(ours=FilteredRelation(
                    self.relation, condition=Q(**{f"{self.relation}__{self.contact_column}__in": contact_ids})))
                .filter(pk__in=sorted(ids)).values_list("pk", "tenant_id", "name", f"ours__{self.contact_column}")
            )
            for pk, tenant_id, name, contact_id in rows:
                found[pk] = (tenant_id, name)
                if contact_id is not None:
                    holders.add((pk, contact_id))
        answers = {}
        for e, leaf in pairs:
            pk = _object_id(leaf.get(self.field))
            owner = found.get(pk)
            if owner is None or owner[0] != e.tenant_id:
                # Deleted, or another workspace's: as if it did not exist.
                answers[e.id, id(leaf)] = Outcome(False, missing=f"the {self.field} #{pk} no longer exists")
                continue
            wanted = leaf.get(self.flag, True) is not False
            holds = (pk, e.contact_id) in holders
            answers[e.id, id(leaf)] = Outcome(holds == wanted, because=self.because(owner[1], holds))
        return answers


class Tags(_Membership):
    kinds = ("tag",)
    model, field, flag, relation, contact_column = Tag, "tag", "has", "contacts", "id"

    def because(self, name, holds):
        return f"the contact {'has' if holds else 'does not have'} the tag “{name}”"


class Lists(_Membership):
    kinds = ("list",)
    model, field, flag, relation, contact_column = ContactList, "list", "member", "listmembership", "contact_id"

    def because(self, name, holds):
        return f"the contact {'is' if holds else 'is not'} on the list “{name}”"
