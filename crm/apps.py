from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "CRM"

    def ready(self) -> None:
        # Every app registers its periodic jobs in <app>/jobs.py.
        autodiscover_modules("jobs")
