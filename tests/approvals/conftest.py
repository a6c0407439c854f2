import pytest


@pytest.fixture
def celery_to_broker():
    """Tasks fired after commit (delivery kick, processor sweep) go to the test broker
    instead of running inline: these tests are about the decision, not delivery."""
    from scendcore.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield app
    app.conf.task_always_eager = previous
