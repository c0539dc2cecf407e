"""Reading lifecycle history."""

from django.contrib.contenttypes.models import ContentType
from django.db.models import Model, QuerySet

from lifecycle.models import LifecycleEvent


def history_of(subject: Model) -> QuerySet[LifecycleEvent]:
    """The transitions of `subject`, newest first."""
    return LifecycleEvent.objects.filter(
        content_type=ContentType.objects.get_for_model(subject, for_concrete_model=True),
        object_id=str(subject.pk),
    ).select_related("actor")
