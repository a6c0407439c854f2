"""Shared behaviour of every ModelAdmin: the tenant first in each list and filter,
timestamps read-only, big foreign keys as raw ids (contacts run into the millions), and
tenant scoping for staff who are not superusers.

Who sees what in the admin: a superuser (a platform operator) sees every workspace.
Any other staff member works only inside the workspaces where they are an *admin*
member: every list, search, autocomplete, filter, form choice and raw-id label is
limited to those workspaces, another workspace's object answers like a missing one, and
no object can be saved into another workspace or point at another workspace's objects.
Being a rep or a manager somewhere gives no admin access there (the app's own pages
apply those roles' rules). Models that belong to no workspace (schedules, lockouts,
groups and permissions) are for superusers only: see admin_site.py."""
import functools

from django.contrib import admin
from django.contrib.admin import widgets
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import models

TIMESTAMP_NAMES = {"created_at", "updated_at"}
OTHER_WORKSPACE = "Choose objects of a workspace you administer."
MIXED_WORKSPACES = "“%(field)s” belongs to another workspace than this object."


def timestamp_fields(model):
    return [
        f.name for f in model._meta.concrete_fields
        if isinstance(f, models.DateTimeField)
        and (getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) or f.name in TIMESTAMP_NAMES)
    ]


# ---------------------------------------------------------------- the scoping rule

def admin_tenant_ids(request):
    """The ids of the workspaces the request's user administers here; None for a
    superuser, who is not limited."""
    from .models import Membership, Role

    user = request.user
    if user.is_active and user.is_superuser:
        return None
    if not hasattr(request, "_admin_tenant_ids"):
        request._admin_tenant_ids = frozenset(
            Membership.objects.filter(user_id=user.pk, role=Role.ADMIN).values_list("tenant_id", flat=True)
        ) if user.pk else frozenset()
    return request._admin_tenant_ids


@functools.cache
def tenant_path(model):
    """The lookup from `model` to its workspace: "" for the workspace itself, "tenant",
    or through required parents ("contact_list__tenant"); None for models that belong to
    no workspace (users belong to several, through their memberships)."""
    from .models import Tenant

    return _tenant_path(model, Tenant, depth=0)


def _tenant_path(model, tenant_model, depth):
    if model is tenant_model:
        return ""
    if depth > 2:
        return None
    relations = [f for f in model._meta.concrete_fields if f.many_to_one and f.related_model is not model]
    for field in sorted(relations, key=lambda f: f.name != "tenant"):
        if field.null and field.name != "tenant":
            continue
        parent = _tenant_path(field.related_model, tenant_model, depth + 1)
        if parent is not None:
            return f"{field.name}__{parent}" if parent else field.name
    return None


def tenant_id_of(obj):
    """The id of the workspace `obj` belongs to, through its tenant path; None when it
    belongs to none or a parent is not set yet."""
    path = tenant_path(type(obj))
    if path is None:
        return None
    if path == "":
        return obj.pk
    *parents, last = path.split("__")
    try:
        for name in parents:
            obj = getattr(obj, name)
            if obj is None:
                return None
    except ObjectDoesNotExist:
        return None
    return getattr(obj, f"{last}_id")


def scope(queryset, request):
    """`queryset` limited to the workspaces the request's user administers. Users are
    the members of those workspaces; a model of no workspace is nothing at all."""
    from .models import Membership

    ids = admin_tenant_ids(request)
    if ids is None:
        return queryset
    model = queryset.model
    if model is get_user_model():
        return queryset.filter(pk__in=Membership.objects.filter(tenant_id__in=ids).values("user_id"))
    path = tenant_path(model)
    if path is None:
        return queryset.none()
    return queryset.filter(**{"pk__in" if path == "" else f"{path}__in": ids})


def tenancy_problems(instance, cleaned_data, ids):
    """{field name or None: message} for an object the user may not save: in a workspace
    they do not administer, or pointing at objects of another workspace than its own."""
    own = tenant_id_of(instance)
    if own is None:
        return {}
    if ids is not None and own not in ids:
        return {None: OTHER_WORKSPACE}
    problems = {}
    for field in instance._meta.concrete_fields:
        if not field.many_to_one or field.related_model is get_user_model():
            continue
        related = getattr(instance, field.name, None)
        if related is not None and tenant_path(type(related)) is not None and tenant_id_of(related) != own:
            problems[field.name] = MIXED_WORKSPACES % {"field": field.verbose_name}
    for field in instance._meta.many_to_many:
        for related in cleaned_data.get(field.name) or ():
            if tenant_path(type(related)) is not None and tenant_id_of(related) != own:
                problems[field.name] = MIXED_WORKSPACES % {"field": field.verbose_name}
    return problems


def checked_form(form_class, request):
    """`form_class` refusing, as form errors, an object `tenancy_problems` objects to."""
    ids = admin_tenant_ids(request)

    class TenancyCheckedForm(form_class):
        def _post_clean(self):
            super()._post_clean()
            for field, message in tenancy_problems(self.instance, getattr(self, "cleaned_data", {}), ids).items():
                self.add_error(field if field in self.fields else None, message)

    TenancyCheckedForm.__name__ = form_class.__name__
    return TenancyCheckedForm


class ScopedRawIdWidget(widgets.ForeignKeyRawIdWidget):
    """Shows the label of a chosen object only when the user may see it: a typed-in id
    of another workspace's object must not print its name next to the field."""

    def __init__(self, rel, admin_site, *, queryset, **kwargs):
        super().__init__(rel, admin_site, **kwargs)
        self.queryset = queryset

    def label_and_url_for_value(self, value):
        try:
            visible = self.queryset.filter(**{self.rel.get_related_field().name: value}).exists()
        except (ValueError, TypeError, ValidationError):
            return "", ""
        return super().label_and_url_for_value(value) if visible else ("", "")


class ScopedRelatedFilter(admin.RelatedFieldListFilter):
    """A related-object filter offering only the objects the user may see."""

    def field_choices(self, field, request, model_admin):
        queryset = scope(field.related_model._default_manager.all(), request)
        ordering = self.field_admin_ordering(field, request, model_admin)
        if ordering:
            queryset = queryset.order_by(*ordering)
        return [(obj.pk, str(obj)) for obj in queryset]


def _is_relation(model, path):
    try:
        return get_fields_from_path(model, path)[-1].is_relation
    except (FieldDoesNotExist, IndexError, AttributeError):
        return False


# ---------------------------------------------------------------- the admin classes

class ScopedFormfields:
    """Foreign-key and many-to-many choices of a ModelAdmin or an inline, scoped."""

    def _scoped_choices(self, db_field, request, kwargs):
        if admin_tenant_ids(request) is None:
            return
        queryset = kwargs.get("queryset")
        if queryset is None:
            queryset = self.get_field_queryset(kwargs.get("using"), db_field, request)
        if queryset is None:
            queryset = db_field.remote_field.model._default_manager.using(kwargs.get("using"))
        kwargs["queryset"] = scope(queryset, request)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        self._scoped_choices(db_field, request, kwargs)
        if "queryset" in kwargs and "widget" not in kwargs and db_field.name in self.raw_id_fields:
            kwargs["widget"] = ScopedRawIdWidget(db_field.remote_field, self.admin_site, queryset=kwargs["queryset"],
                                                 using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        self._scoped_choices(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class ScopedModelAdmin(ScopedFormfields, admin.ModelAdmin):
    """The base of every ModelAdmin of the project's models (see the module docstring)."""

    def get_queryset(self, request):
        return scope(super().get_queryset(request), request)

    def _administers_something(self, request):
        ids = admin_tenant_ids(request)
        return ids is None or bool(ids)

    def has_module_permission(self, request):
        return self._administers_something(request) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return self._administers_something(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        return self._administers_something(request) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return self._administers_something(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._administers_something(request) and super().has_delete_permission(request, obj)

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        if admin_tenant_ids(request) is None:
            return filters
        return [(f, ScopedRelatedFilter) if isinstance(f, str) and _is_relation(self.model, f) else f
                for f in filters]

    def get_form(self, request, obj=None, **kwargs):
        return checked_form(super().get_form(request, obj, **kwargs), request)

    def save_model(self, request, obj, form, change):
        # The forms refuse this already; the last line of defence before the write.
        ids = admin_tenant_ids(request)
        if ids is not None and tenant_path(type(obj)) is not None and tenant_id_of(obj) not in ids:
            raise PermissionDenied("That object belongs to a workspace you do not administer.")
        super().save_model(request, obj, form, change)


class ScopedInlineMixin(ScopedFormfields):
    """The base of every inline: choices scoped, each row checked like a form."""

    def get_formset(self, request, obj=None, **kwargs):
        kwargs["form"] = checked_form(kwargs.get("form", self.form), request)
        return super().get_formset(request, obj, **kwargs)


class TabularInline(ScopedInlineMixin, admin.TabularInline):
    pass


class TenantAdmin(ScopedModelAdmin):
    """For models with a `tenant` foreign key. `tenant_path` names the lookup for models
    that reach their tenant through a parent (e.g. "contact_list__tenant")."""

    tenant_path = "tenant"
    list_per_page = 50
    show_full_result_count = False

    def get_list_display(self, request):
        display = list(super().get_list_display(request))
        return ["tenant_name", *[d for d in display if d != "tenant_name"]]

    def get_list_filter(self, request):
        filters = [f for f in super().get_list_filter(request) if (f[0] if isinstance(f, tuple) else f) != self.tenant_path]
        tenant_filter = self.tenant_path if admin_tenant_ids(request) is None else (self.tenant_path, ScopedRelatedFilter)
        return [tenant_filter, *filters]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return readonly + [f for f in timestamp_fields(self.model) if f not in readonly]

    def get_queryset(self, request):
        path = self.tenant_path
        return super().get_queryset(request).select_related(path)

    @admin.display(description="tenant", ordering="tenant__name")
    def tenant_name(self, obj):
        target = obj
        for part in self.tenant_path.split("__"):
            target = getattr(target, part, None)
            if target is None:
                return "—"
        return target.name


class OperatorOnlyFieldsAdmin(admin.ModelAdmin):
    """Fields only platform operators (superusers) may change, such as a credential's
    environment reference: read-only for every other staff user."""

    operator_only_fields = ()

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += [f for f in self.operator_only_fields if f not in readonly]
        return readonly
