"""Where kinds grow (gates, step types, node kinds …): one name for each implementation,
registered once. An unknown name raises; it never falls through to a default."""


class Registry:
    def __init__(self, what, *, key, missing=LookupError):
        self.what, self.key, self.missing = what, key, missing
        self._items = {}

    def register(self, item):
        name = getattr(item, self.key)
        if name in self._items and self._items[name] is not item:
            raise ValueError(f"a {self.what} named {name!r} is already registered")
        self._items[name] = item
        return item

    def get(self, name):
        try:
            return self._items[name]
        except KeyError:
            raise self.missing(name) from None

    def names(self):
        return sorted(self._items)

    def values(self):
        return list(self._items.values())

    def __contains__(self, name):
        return name in self._items
