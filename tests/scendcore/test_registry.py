"""Registries of kinds that grow: one implementation per name, unknown names refused."""
from types import SimpleNamespace

import pytest

from scendcore.registry import Registry


class Unknown(LookupError):
    pass


def test_a_registered_kind_is_found_and_an_unknown_one_raises_the_registrys_error():
    registry = Registry("thing", key="kind", missing=Unknown)
    first = registry.register(SimpleNamespace(kind="first"))

    assert registry.get("first") is first and "first" in registry and registry.names() == ["first"]
    with pytest.raises(Unknown):
        registry.get("second")


def test_a_second_implementation_under_a_taken_name_is_refused_and_the_first_kept():
    registry = Registry("thing", key="kind")
    first = registry.register(SimpleNamespace(kind="same"))

    assert registry.register(first) is first  # registering the same one again is harmless
    with pytest.raises(ValueError, match="already registered"):
        registry.register(SimpleNamespace(kind="same"))
    assert registry.get("same") is first
