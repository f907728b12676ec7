from typing import Any

from django.apps import AppConfig


class CustodyConfig(AppConfig):
    name = "vinex.custody"
    label = "custody"
    verbose_name = "Custody"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from vinex.custody.models import Agency, Facility

        # Ingest remembers agencies and their facilities for a few seconds: a change made by this process is
        # seen by its next batch.
        for model in (Agency, Facility):
            post_save.connect(_agency_changed, sender=model, dispatch_uid=f"vinex.custody.{model.__name__}.saved")
            post_delete.connect(_agency_changed, sender=model, dispatch_uid=f"vinex.custody.{model.__name__}.deleted")


def _agency_changed(instance: Any, **kwargs: Any) -> None:
    from django.db import transaction

    from vinex.custody.ingest.store import agency_forget
    from vinex.custody.models import Agency

    agency_id = instance.pk if isinstance(instance, Agency) else instance.agency_id
    agency_forget(agency_id)
    transaction.on_commit(lambda: agency_forget(agency_id))  # a batch in between may have read the old rows
