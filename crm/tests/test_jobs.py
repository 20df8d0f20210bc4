import threading
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from crm import jobs, services
from crm.models import DeadLetter, JobLock, JobRun, JobRunStatus

# --- Distributed lock -------------------------------------------------------------------------


def run_concurrently(function, contenders: int) -> list:
    """Call `function(index)` from `contenders` threads released at once; return the results.
    Each thread has its own database connection, as separate processes would."""
    barrier = threading.Barrier(contenders)
    results = []

    def contend(index: int) -> None:
        try:
            barrier.wait()
            results.append(function(index))
        finally:
            connection.close()

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_acquirers_exactly_one_wins():
    results = run_concurrently(
        lambda index: jobs.lock_acquire("race", holder=f"h{index}", lease=timedelta(minutes=1)),
        contenders=8,
    )
    assert sorted(results) == [False] * 7 + [True]
    assert JobLock.objects.filter(name="race").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_takeover_of_expired_lease_has_one_winner():
    past = timezone.now() - timedelta(minutes=5)
    JobLock.objects.create(name="stale", holder="crashed", acquired_at=past, expires_at=past)
    results = run_concurrently(
        lambda index: jobs.lock_acquire("stale", holder=f"h{index}", lease=timedelta(minutes=1)),
        contenders=6,
    )

    assert results.count(True) == 1
    assert JobLock.objects.get(name="stale").holder != "crashed"


@pytest.mark.sqlite
@pytest.mark.django_db
def test_lock_is_exclusive_until_released():
    assert jobs.lock_acquire("job", holder="a", lease=timedelta(minutes=1))
    assert not jobs.lock_acquire("job", holder="b", lease=timedelta(minutes=1))
    jobs.lock_release("job", holder="b")  # not the holder: nothing happens
    assert not jobs.lock_acquire("job", holder="b", lease=timedelta(minutes=1))
    jobs.lock_release("job", holder="a")
    assert jobs.lock_acquire("job", holder="b", lease=timedelta(minutes=1))


@pytest.mark.sqlite
@pytest.mark.django_db
def test_expired_lease_can_be_taken_over():
    assert jobs.lock_acquire("job", holder="crashed", lease=timedelta(seconds=-1))
    assert jobs.lock_acquire("job", holder="next", lease=timedelta(minutes=1))
    assert JobLock.objects.get(name="job").holder == "next"
    # The crashed holder coming back must not release the new holder's lease.
    jobs.lock_release("job", holder="crashed")
    assert JobLock.objects.filter(name="job", holder="next").exists()


@pytest.mark.django_db
def test_lock_extend_only_for_the_holder():
    jobs.lock_acquire("job", holder="a", lease=timedelta(seconds=10))
    assert jobs.lock_extend("job", holder="a", lease=timedelta(hours=1))
    assert not jobs.lock_extend("job", holder="b", lease=timedelta(hours=1))
    assert JobLock.objects.get(name="job").expires_at > timezone.now() + timedelta(minutes=50)


# --- Job runs ---------------------------------------------------------------------------------


@pytest.fixture
def sample_jobs():
    calls = []

    @jobs.register_job("test_counting", description="counts to three")
    def counting(progress):
        for done in range(1, 4):
            progress(done, 3)
        calls.append("counting")
        return 3

    @jobs.register_job("test_broken")
    def broken(progress):
        raise ValueError("bad data in row 7")

    yield calls
    jobs._registry.pop("test_counting")
    jobs._registry.pop("test_broken")


@pytest.mark.sqlite
@pytest.mark.django_db
def test_job_run_records_success(sample_jobs):
    run = jobs.job_run("test_counting")
    assert run.status == JobRunStatus.SUCCEEDED
    assert run.items_processed == 3
    assert run.finished_at >= run.started_at
    assert not JobLock.objects.exists()  # released


@pytest.mark.django_db
def test_job_run_skips_when_locked(sample_jobs):
    jobs.lock_acquire("job:test_counting", holder="someone", lease=timedelta(minutes=5))
    run = jobs.job_run("test_counting")
    assert run.status == JobRunStatus.SKIPPED_LOCKED
    assert sample_jobs == []


@pytest.mark.django_db
def test_job_run_records_failure_and_reraises(sample_jobs):
    with pytest.raises(ValueError):
        jobs.job_run("test_broken")
    run = JobRun.objects.get(name="test_broken")
    assert run.status == JobRunStatus.FAILED
    assert "bad data in row 7" in run.error
    assert not JobLock.objects.exists()


@pytest.mark.django_db
def test_next_run_marks_a_run_whose_process_died_as_abandoned(sample_jobs):
    dead = JobRun.objects.create(
        name="test_counting", status=JobRunStatus.RUNNING, started_at=timezone.now()
    )
    jobs.job_run("test_counting")
    dead.refresh_from_db()
    assert dead.status == JobRunStatus.FAILED
    assert dead.error == jobs.ABANDONED_RUN_ERROR


@pytest.mark.django_db
def test_progress_renews_the_lease():
    seen = []

    @jobs.register_job("test_renewing")
    def renewing(progress):
        before = JobLock.objects.get(name="job:test_renewing").expires_at
        progress(1, 1)
        seen.append(JobLock.objects.get(name="job:test_renewing").expires_at > before)
        return 1

    try:
        jobs.job_run("test_renewing")
    finally:
        jobs._registry.pop("test_renewing")
    assert seen == [True]


def test_a_lease_shorter_than_the_task_time_limit_is_refused():
    with pytest.raises(ValueError, match="lease must outlast"):
        jobs.register_job("test_short", lease=timedelta(minutes=1))


@pytest.mark.django_db
def test_run_job_command_prints_progress(sample_jobs, capsys):
    call_command("run_job", "test_counting")
    out = capsys.readouterr().out
    assert "test_counting: 3/3" in out
    assert "succeeded: 3 item(s)" in out


@pytest.mark.django_db
def test_run_job_command_lists_jobs_and_rejects_unknown(capsys):
    call_command("run_job")
    assert "retry_dead_letters" in capsys.readouterr().out
    with pytest.raises(CommandError, match="No job named 'nope'"):
        call_command("run_job", "nope")


@pytest.mark.django_db
def test_run_job_command_reports_failure(sample_jobs):
    with pytest.raises(CommandError, match="test_broken failed: ValueError"):
        call_command("run_job", "test_broken")


@pytest.mark.django_db
def test_prune_job_runs_deletes_only_old_runs():
    now = timezone.now()
    JobRun.objects.create(name="x", status="succeeded", started_at=now - timedelta(days=120))
    recent = JobRun.objects.create(name="x", status="succeeded", started_at=now)
    run = jobs.job_run("prune_job_runs")
    assert run.items_processed == 1
    assert set(JobRun.objects.filter(name="x").values_list("pk", flat=True)) == {recent.pk}


def test_every_beat_entry_names_a_registered_job_or_task():
    from crm.celery import BEAT_SCHEDULE, app

    app.loader.import_default_modules()
    for entry in BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks
        if entry["task"] == "crm.tasks.run_job_task":
            assert entry["args"][0] in jobs.registered_jobs()


# --- Dead letters -----------------------------------------------------------------------------


@pytest.mark.sqlite
@pytest.mark.django_db
def test_same_failure_updates_its_letter():
    first = services.dead_letter_record(
        task_name="t", args=[1], kwargs={"a": 2}, error="E1", traceback="tb"
    )
    DeadLetter.objects.filter(pk=first.pk).update(retried=True)
    again = services.dead_letter_record(task_name="t", args=[1], kwargs={"a": 2}, error="E2")
    other = services.dead_letter_record(task_name="t", args=[2], kwargs={}, error="E3")
    assert again.pk == first.pk
    assert again.failure_count == 2
    assert again.error == "E2"
    assert again.retried is False
    assert again.last_failed_at >= again.first_failed_at
    assert other.pk != first.pk


@pytest.mark.django_db
def test_retry_dead_letters_command_enqueues_on_the_broker():
    import redis
    from django.conf import settings

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("celery")
    letter = services.dead_letter_record(
        task_name="crm.tasks.run_job_task", args=["prune_job_runs"], kwargs={}, error="E"
    )
    call_command("retry_dead_letters")
    letter.refresh_from_db()
    assert letter.retried and letter.retried_at is not None
    assert broker.llen("celery") == 1
    broker.delete("celery")


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_enqueue_each_letter_once():
    import redis
    from django.conf import settings

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("celery")
    for number in range(3):
        services.dead_letter_record(
            task_name="crm.tasks.run_job_task", args=[f"job{number}"], kwargs={}, error="E"
        )
    counts = run_concurrently(
        lambda index: services.dead_letters_retry(letters=DeadLetter.objects.filter(retried=False)),
        contenders=2,
    )
    assert sum(counts) == 3
    assert broker.llen("celery") == 3
    broker.delete("celery")


@pytest.mark.django_db
def test_retry_dead_letters_command_rejects_unknown_id():
    with pytest.raises(CommandError, match="No dead letter with id 999"):
        call_command("retry_dead_letters", "--id", "999")
