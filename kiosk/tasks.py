"""Celery bound to the Flask app, as in Flask's own Celery guide."""
from __future__ import annotations

from celery import Celery, Task
from flask import Flask


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object(app.config["CELERY"])
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    # Import task modules so the worker registers them.
    celery_app.autodiscover_tasks(["kiosk.payments", "kiosk.queues", "kiosk.display", "kiosk.stats"],
                                  force=True)
    return celery_app
