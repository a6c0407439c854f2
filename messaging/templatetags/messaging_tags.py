from django import template

register = template.Library()


@register.filter
def split(value):
    return value.split()


@register.filter
def field(form, name):
    """A bound field by name (templates cannot index forms with a variable)."""
    return form[name]
