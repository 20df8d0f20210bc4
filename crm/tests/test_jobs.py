import threading
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from crm import jobs
from crm.jobs import maintenance
from crm.jobs import services as jobs_services
from crm.jobs.models import DeadLetter, JobLock, JobRun, JobRunStatus
from crm.testing.database import held_elsewhere

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
    jobs.unregister_job("test_counting")
    jobs.unregister_job("test_broken")


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
def test_a_run_whose_process_died_is_closed_within_a_minute(sample_jobs):
    now = timezone.now()
    dead = JobRun.objects.create(name="test_counting", status=JobRunStatus.RUNNING, started_at=now)
    alive = JobRun.objects.create(name="test_broken", status=JobRunStatus.RUNNING, started_at=now)
    # test_broken's run still holds its lease; test_counting's process died with no lease left.
    jobs.lock_acquire("job:test_broken", holder="alive", lease=timedelta(minutes=5))

    run = jobs.job_run("close_abandoned_job_runs")

    assert run.items_processed == 1
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert (dead.status, dead.error) == (JobRunStatus.FAILED, maintenance.ABANDONED_RUN_ERROR)
    assert dead.finished_at is not None
    assert alive.status == JobRunStatus.RUNNING


@pytest.mark.django_db
def test_runs_of_jobs_without_the_lock_are_judged_by_their_time_limit():
    @jobs.register_job("test_side_by_side", exclusive=False, time_limit=60)
    def side_by_side(progress):
        return 0

    now = timezone.now()
    try:
        fresh = JobRun.objects.create(
            name="test_side_by_side", status=JobRunStatus.RUNNING, started_at=now
        )
        stale = JobRun.objects.create(
            name="test_side_by_side",
            status=JobRunStatus.RUNNING,
            started_at=now - timedelta(minutes=5),
        )
        jobs.job_run("close_abandoned_job_runs")
    finally:
        jobs.unregister_job("test_side_by_side")
    assert JobRun.objects.get(pk=fresh.pk).status == JobRunStatus.RUNNING
    assert JobRun.objects.get(pk=stale.pk).status == JobRunStatus.FAILED


@pytest.mark.django_db
def test_a_job_without_the_lock_runs_beside_a_running_one():
    seen = []

    @jobs.register_job("test_claims_rows", exclusive=False)
    def claims_rows(progress):
        seen.append(JobLock.objects.filter(name="job:test_claims_rows").exists())
        return 1

    try:
        jobs.lock_acquire("job:test_claims_rows", holder="other", lease=timedelta(minutes=5))
        run = jobs.job_run("test_claims_rows")
    finally:
        jobs.unregister_job("test_claims_rows")
    assert run.status == JobRunStatus.SUCCEEDED
    assert seen == [True]  # it ran although the name's lock was held


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
        jobs.unregister_job("test_renewing")
    assert seen == [True]


@pytest.mark.django_db
def test_the_lease_follows_the_jobs_own_time_limit():
    leases = []

    @jobs.register_job("test_one_minute", time_limit=60)
    def one_minute(progress):
        lock = JobLock.objects.get(name="job:test_one_minute")
        leases.append(lock.expires_at - lock.acquired_at)
        return 0

    try:
        jobs.job_run("test_one_minute")
    finally:
        jobs.unregister_job("test_one_minute")
    # A crashed one-minute job blocks its next run for two minutes, not half an hour.
    assert leases == [timedelta(seconds=60) + jobs.registry.LEASE_MARGIN]
    assert leases[0] <= timedelta(minutes=2)


def test_two_jobs_cannot_share_a_name():
    @jobs.register_job("test_taken")
    def first(progress):
        return 0

    try:
        with pytest.raises(ValueError, match="Two jobs are registered as 'test_taken'"):

            @jobs.register_job("test_taken")
            def second(progress):
                return 0

    finally:
        jobs.unregister_job("test_taken")


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


def test_beat_schedule_is_built_from_the_registry():
    from celery.schedules import crontab

    from crm.celery import app
    from crm.jobs.scheduler import BEAT_HEARTBEAT_ENTRY

    @jobs.register_job("test_every_minute", schedule=timedelta(minutes=1), time_limit=40)
    def every_minute(progress):
        return 0

    try:
        schedule = jobs.registry.beat_schedule(extra=BEAT_HEARTBEAT_ENTRY)
    finally:
        jobs.unregister_job("test_every_minute")
    entry = schedule["job:test_every_minute"]
    assert entry["task"] == "crm.jobs.run_job_task" and entry["args"] == ("test_every_minute",)
    assert entry["schedule"].run_every == timedelta(minutes=1)
    # The job's own limits travel with each run; a tick not taken before the next is dropped.
    assert entry["options"] == {"time_limit": 40, "soft_time_limit": 35, "expires": 60}
    assert isinstance(schedule["job:prune_job_runs"]["schedule"], crontab)
    assert "beat-heartbeat" in schedule
    for entry in schedule.values():
        assert entry["task"] in app.tasks


def test_only_jobs_with_a_schedule_are_in_beat():
    @jobs.register_job("test_on_demand")
    def on_demand(progress):
        return 0

    try:
        schedule = jobs.registry.beat_schedule()
    finally:
        jobs.unregister_job("test_on_demand")
    assert "job:test_on_demand" not in schedule


# --- Dead letters -----------------------------------------------------------------------------


@pytest.mark.sqlite
@pytest.mark.django_db
def test_same_failure_updates_its_letter():
    first = jobs_services.dead_letter_record(
        task_name="t", args=[1], kwargs={"a": 2}, error="E1", traceback="tb"
    )
    DeadLetter.objects.filter(pk=first.pk).update(retried=True)
    again = jobs_services.dead_letter_record(task_name="t", args=[1], kwargs={"a": 2}, error="E2")
    other = jobs_services.dead_letter_record(task_name="t", args=[2], kwargs={}, error="E3")
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
    letter = jobs_services.dead_letter_record(
        task_name="crm.jobs.run_job_task", args=["prune_job_runs"], kwargs={}, error="E"
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
        jobs_services.dead_letter_record(
            task_name="crm.jobs.run_job_task", args=[f"job{number}"], kwargs={}, error="E"
        )
    counts = run_concurrently(
        lambda index: jobs_services.dead_letters_retry(
            letters=DeadLetter.objects.filter(retried=False)
        ),
        contenders=2,
    )
    assert sum(counts) == 3
    assert broker.llen("celery") == 3
    broker.delete("celery")


def _sent_args(broker) -> list[str]:
    import json

    return [json.loads(raw)["headers"]["argsrepr"] for raw in broker.lrange("celery", 0, -1)]


@pytest.mark.django_db(transaction=True)
def test_two_operators_sending_a_tasks_letters_again_at_once_send_each_once(admin_user):
    import redis
    from django.conf import settings

    from crm.models import AuditEntry

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("celery")
    for number in range(20):
        jobs_services.dead_letter_record(
            task_name="crm.jobs.run_job_task", args=[f"job{number}"], kwargs={}, error="E"
        )
    try:
        counts = run_concurrently(
            lambda index: jobs_services.dead_letters_act(
                actor=admin_user, task_name="crm.jobs.run_job_task", action="retry"
            ),
            contenders=2,
        )
        sent = _sent_args(broker)
    finally:
        broker.delete("celery")

    assert sum(counts) == 20
    assert sorted(sent) == sorted(f"['job{number}']" for number in range(20))
    assert not DeadLetter.objects.filter(retried=False).exists()
    assert AuditEntry.objects.filter(action="dead_letter.retry").count() == 20


@pytest.mark.django_db(transaction=True)
def test_a_retry_skips_the_letters_another_retry_is_claiming_without_waiting():
    import redis
    from django.conf import settings

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("celery")
    letters = [
        jobs_services.dead_letter_record(
            task_name="crm.jobs.run_job_task", args=[f"job{number}"], kwargs={}, error="E"
        )
        for number in range(3)
    ]

    def hold_the_first_letter() -> None:
        DeadLetter.objects.select_for_update().filter(pk=letters[0].pk).get()

    try:
        with held_elsewhere(hold_the_first_letter):
            assert jobs_services.dead_letters_retry(letters=DeadLetter.objects.all()) == 2
            sent = _sent_args(broker)
    finally:
        broker.delete("celery")

    assert sorted(sent) == ["['job1']", "['job2']"]
    assert not DeadLetter.objects.get(pk=letters[0].pk).retried


@pytest.mark.sqlite
@pytest.mark.django_db
def test_a_broker_refusal_puts_the_letters_not_sent_back_as_they_were(monkeypatch):
    letters = [
        jobs_services.dead_letter_record(
            task_name="crm.jobs.run_job_task", args=[f"job{number}"], kwargs={}, error="E"
        )
        for number in range(4)
    ]
    sent_before = timezone.now() - timedelta(days=1)
    DeadLetter.objects.filter(pk=letters[3].pk).update(retried=True, retried_at=sent_before)
    sent = []

    def broker_down_after_the_first(letter):
        if sent:
            raise ConnectionError("broker down")
        sent.append(letter.pk)

    monkeypatch.setattr(jobs_services, "_enqueue", broker_down_after_the_first)

    with pytest.raises(ConnectionError):
        jobs_services.dead_letters_retry(letters=DeadLetter.objects.all())

    states = dict(DeadLetter.objects.values_list("pk", "retried"))
    assert sent == [letters[0].pk] and states[letters[0].pk] is True
    assert (states[letters[1].pk], states[letters[2].pk]) == (False, False)
    assert DeadLetter.objects.get(pk=letters[3].pk).retried_at == sent_before
    assert DeadLetter.objects.filter(retried_at__isnull=False).count() == 2


@pytest.mark.django_db
def test_retry_dead_letters_command_rejects_unknown_id():
    with pytest.raises(CommandError, match="No dead letter with id 999"):
        call_command("retry_dead_letters", "--id", "999")


@pytest.mark.sqlite
@pytest.mark.django_db
def test_a_retried_dead_letter_runs_again_when_tasks_run_eagerly(eager_celery):
    """With no worker (tasks run in the calling process) a re-enqueued letter still runs: its
    task is sent as itself, not by name (which would go nowhere)."""
    from crm.tests.celery_tasks import always_fails

    always_fails.delay(3, reason="eager")
    letter = DeadLetter.objects.get(task_name="crm.tests.always_fails")
    assert letter.failure_count == 1

    assert jobs_services.dead_letters_retry(letters=DeadLetter.objects.all()) == 1

    letter.refresh_from_db()
    assert letter.failure_count == 2  # it ran, and failed again
    assert letter.retried is False


@pytest.mark.sqlite
@pytest.mark.django_db
def test_a_letter_for_a_task_this_process_does_not_know_is_not_silently_dropped(eager_celery):
    letter = jobs_services.dead_letter_record(
        task_name="gone.tasks.renamed", args=[], kwargs={}, error="E"
    )

    with pytest.raises(jobs_services.UnknownTask):
        jobs_services.dead_letters_retry(letters=DeadLetter.objects.all())

    letter.refresh_from_db()
    assert letter.retried is False  # still waiting for a person


@pytest.mark.django_db
def test_every_run_carries_its_jobs_time_limits_whoever_sends_it():
    """Beat, enqueue_job and a re-sent dead letter all send run_job_task: each message on the
    broker carries the job's own limits."""
    import json

    import redis
    from django.conf import settings

    from crm.jobs.tasks import enqueue_job, run_job_task

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("celery")

    @jobs.register_job("test_short", time_limit=60)
    def short(progress):
        return 0

    try:
        enqueue_job("test_short")
        letter = jobs_services.dead_letter_record(
            task_name="crm.jobs.run_job_task", args=["test_short"], kwargs={}, error="E"
        )
        jobs_services.dead_letters_retry(letters=DeadLetter.objects.filter(pk=letter.pk))
        run_job_task.apply_async(args=["test_short"], expires=60)  # as beat sends it
    finally:
        jobs.unregister_job("test_short")
    messages = [json.loads(raw) for raw in broker.lrange("celery", 0, -1)]
    broker.delete("celery")
    assert [m["headers"]["timelimit"] for m in messages] == [[60, 55]] * 3
