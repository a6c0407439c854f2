"""Limit/offset pages for list endpoints: the items, the total, and links to the pages
before and after."""


def _link(request, offset, limit):
    query = request.GET.copy()
    query["offset"], query["limit"] = str(offset), str(limit)
    return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")


def page(request, queryset, *, limit, offset):
    """(the page's rows, {"count", "limit", "offset", "next", "previous"})."""
    count = queryset.count()
    rows = list(queryset[offset:offset + limit])
    return rows, {
        "count": count, "limit": limit, "offset": offset,
        "next": _link(request, offset + limit, limit) if offset + limit < count else None,
        "previous": _link(request, max(offset - limit, 0), limit) if offset > 0 else None,
    }
