"""The admin names every model in proper English plurals."""
from django.apps import apps


def test_no_model_is_named_with_a_naive_plural_like_entrys():
    naive = {m._meta.label: str(m._meta.verbose_name_plural) for m in apps.get_models()
             if str(m._meta.verbose_name_plural).endswith(("ys", "sss", "xs", "chs", "shs"))
             and not str(m._meta.verbose_name_plural).endswith(("ays", "eys", "oys"))}
    assert naive == {}
    assert str(apps.get_model("scendcore", "AuditEntry")._meta.verbose_name_plural) == "audit entries"
