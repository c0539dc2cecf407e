"""The Portcullis project: settings, URLs, the Celery app and the developer portal."""

from portal.celery import app as celery_app

__all__ = ["celery_app"]
