"""The WSGI application as gunicorn calls it (crm.wsgi): the ingestion paths through the lean
middleware, every other path through the full stack."""

import io
import json

import pytest
from django.test import RequestFactory

from crm.wsgi import application
from tracking.models import RawEvent
from tracking.tests.helpers import UA, make_tenant


def _call(request) -> tuple[int, dict[str, str], bytes]:
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"] = int(status.split()[0])
        answer["headers"] = {name.lower(): value for name, value in headers}

    body = b"".join(application(request.environ, start_response))
    return answer["status"], answer["headers"], body


def _post(path: str, data: bytes):
    request = RequestFactory().post(path, data, content_type="application/json",
                                    HTTP_USER_AGENT=UA)  # fmt: skip
    request.environ["wsgi.input"] = io.BytesIO(data)
    return _call(request)


@pytest.mark.django_db(transaction=True)
def test_an_event_goes_through_the_lean_stack_and_is_stored(role_groups):
    tenant = make_tenant()
    status, headers, body = _post(f"/t/e?key={tenant.ingestion_key}", b'{"evt_type": "x"}')
    assert status == 200, body
    assert json.loads(body)["accepted"] == 1
    assert RawEvent.objects.filter(tenant=tenant).count() == 1
    # The security headers, without what only pages need (a session, CSRF, a page's policy).
    assert headers["x-content-type-options"] == "nosniff"
    assert "set-cookie" not in headers
    assert "content-security-policy" not in headers


@pytest.mark.django_db(transaction=True)
def test_a_body_over_the_limit_is_a_413_on_the_lean_stack(role_groups, settings):
    tenant = make_tenant()
    big = json.dumps({"evt_type": "x", "p": "a" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)})
    status, _, body = _post(f"/t/e?key={tenant.ingestion_key}", big.encode())
    assert status == 413, body
    assert RawEvent.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_pages_keep_the_full_stack(role_groups):
    status, headers, _ = _call(RequestFactory().get("/accounts/login/"))
    assert status == 200
    assert "content-security-policy" in headers
    assert headers["x-frame-options"] == "DENY"
    assert "csrftoken" in headers.get("set-cookie", "")
