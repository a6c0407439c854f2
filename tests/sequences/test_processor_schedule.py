"""The sweep's place in beat: django-celery-beat runs it every PROCESSOR_INTERVAL_SECONDS."""
import pytest
from django.conf import settings
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from scendcore.celery import app
from sequences import tasks

pytestmark = pytest.mark.django_db


def test_beat_stores_the_sweep_to_run_every_processor_interval_sixty_seconds_by_default():
    # What `celery beat` does at start for each configured entry: store it in the database.
    DatabaseScheduler.Entry.from_entry("sequences.sweep", app=app, **app.conf.beat_schedule["sequences.sweep"])

    entry = PeriodicTask.objects.get(name="sequences.sweep")
    assert entry.task == tasks.sweep.name  # the task that claims due enrollments
    assert (entry.interval.every, entry.interval.period) == (settings.PROCESSOR_INTERVAL_SECONDS, "seconds")
    assert settings.PROCESSOR_INTERVAL_SECONDS == 60  # the default (the seed allows at most 120)
    assert entry.expire_seconds == settings.PROCESSOR_INTERVAL_SECONDS  # a missed run is not stacked up
