"""A PostgreSQL database of the benchmark's own, next to the one DATABASE_URL names:
created empty before Django starts, dropped at the end."""
import os
from urllib.parse import urlsplit, urlunsplit

BASE_URL = os.environ.get("DATABASE_URL", "postgres://scendcore:scendcore@127.0.0.1:5432/scendcore")


def _admin_url():
    return urlunsplit(urlsplit(BASE_URL)._replace(path="/postgres"))


def _run(statement):
    import psycopg

    with psycopg.connect(_admin_url(), autocommit=True) as conn:
        conn.execute(statement)


def url_of(name):
    """DATABASE_URL for the database `name` on the same server."""
    return urlunsplit(urlsplit(BASE_URL)._replace(path=f"/{name}"))


def recreate(name):
    """An empty database `name`; DATABASE_URL now points at it (call before django.setup())."""
    _run(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    _run(f"CREATE DATABASE {name}")
    os.environ["DATABASE_URL"] = url_of(name)


def drop(name):
    from django.db import connections

    connections.close_all()
    _run(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def sequence_with_version(**fields):
    """A sequence as the services make one: created with its first (published) version."""
    from sequences.models import Sequence
    from sequences.services.versions import first_version_create

    sequence = Sequence.objects.create(**fields)
    first_version_create(sequence=sequence)
    return sequence
