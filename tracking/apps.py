from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _partitions_ahead(sender, using, **kwargs) -> None:
    # After every `migrate` (a deployment, a test database): the days ahead exist.
    from django.db import connections

    from tracking import partitions

    partitions.ensure(using=connections[using])


class TrackingConfig(AppConfig):
    name = "tracking"

    def ready(self) -> None:
        post_migrate.connect(_partitions_ahead, sender=self, dispatch_uid="tracking_partitions")
