from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "CRM"

    def ready(self) -> None:
        # The job platform's own jobs and tasks, then every app's: its areas of the site with
        # their navigation (areas.py; the core's own in crm/areas.py), scheduled jobs (jobs.py),
        # event subscribers (handlers.py), Celery tasks (tasks.py), home page blocks (panels.py)
        # and sections of the ops dashboard (ops.py), so that each process (web, worker, beat)
        # knows all of them.
        from crm import mail  # noqa: F401
        from crm.jobs import maintenance, tasks  # noqa: F401
        from crm.ops import core, replica, signals  # noqa: F401

        autodiscover_modules("areas", "jobs", "handlers", "tasks", "panels", "ops")
