"""Usage accounting: events recorded by the gateway, ingested and rolled up by Celery."""
