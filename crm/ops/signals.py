"""Every task a worker finishes is counted (crm.ops.counters "tasks"): the dashboard's tasks a
minute."""

from celery.signals import task_postrun

from crm.ops import counters


@task_postrun.connect(dispatch_uid="crm.ops.count_tasks")
def count_task(**kwargs) -> None:
    counters.count("tasks")
