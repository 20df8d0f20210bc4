"""The reference of the tracking benchmarks: the app as gunicorn serves it, plus one bare Django
view at /t/bench/insert-only that only inserts the request's body as a raw row (no key, limits,
validation or rate limit): the floor of an ingestion request through the same Django and the
same middleware (under /t/: the lean stack of crm.wsgi, as the ingestion endpoints). Served by a
gunicorn of its own (`bench.tracking_reference:application`); never part of the app."""

from django.db import connection
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from crm.wsgi import application  # noqa: F401  (what gunicorn serves)
from tracking.services import new_event_ids


@csrf_exempt
def insert_only(request):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO tracking_rawevent (tenant_id, received_at, clock_skew, user_agent, "
            "payload, record_source, event_id, status, attempts, last_error, failure_reason) "
            "VALUES (%s, now(), false, '', %s::jsonb, 'api', %s, 0, 0, '', '')",
            [int(request.GET["tenant"]), request.body.decode(), new_event_ids(1)[0]],
        )
    return HttpResponse(b'{"accepted": 1, "rejected": []}', content_type="application/json")


def _route() -> None:
    import crm.urls

    crm.urls.urlpatterns.insert(0, path("t/bench/insert-only", insert_only))


_route()
