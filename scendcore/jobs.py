"""Starting background work by task name, once the current transaction commits.

Services start work ("sweep now", "deliver now", "run this agent job") without
importing the module that defines the task: the task is looked up by its registered
name, so a service never imports a `tasks` module that imports the service back. After
commit, because a worker must find what the transaction wrote (and nothing at all if it
rolled back); with eager Celery (zero-config, tests) the task then runs inline.
"""
from celery import current_app
from django.db import transaction


def task(name):
    """The task registered as `name`. Outside a worker the apps' tasks modules are
    imported on first use (Celery's autodiscovery runs when a worker starts)."""
    tasks = current_app.tasks
    if name not in tasks:
        current_app.loader.import_default_modules()
    return tasks[name]


def start(name, *args, **kwargs):
    """Run the task registered as `name` with these arguments after commit (at once when
    no transaction is open). An unknown name raises here, in the caller's transaction."""
    found = task(name)
    transaction.on_commit(lambda: found.delay(*args, **kwargs))
