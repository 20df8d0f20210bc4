"""Every error answer carries the request's id, the one in its X-Request-ID header and on its
log lines: the API's in its JSON body, a page's in small print for a person to quote."""

import json

import pytest
from django.test import RequestFactory
from rest_framework.test import APIClient

from crm.api.schema import REQUEST_ID_HELP
from crm.logs import NO_REQUEST, bind_request_id
from crm.testing import error_body
from crm.views import BAD_REQUEST, bad_request

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("method", "path", "body", "content_type", "status"),
    [
        ("get", "/api/deals/", None, None, 401),  # anonymous: the client below signs in
        ("get", "/api/deals/999999/", None, None, 404),
        ("get", "/api/deals/?page=99", None, None, 404),  # "Invalid page."
        ("get", "/api/no-such-endpoint/", None, None, 404),  # no route: JSON all the same
        ("get", "/api/deals/1.5/", None, None, 404),
        ("post", "/api/deals/", b'{"title": ', "application/json", 400),
        ("post", "/api/deals/", b"\xff", "application/json", 400),
        ("post", "/api/deals/", b"<deal/>", "application/xml", 415),
        ("post", "/api/deals/", b"x" * (1_048_576 + 1), "application/json", 413),
    ],
)
def test_every_api_error_body_carries_the_request_id(
    rep_api, method, path, body, content_type, status
):
    client = APIClient() if status == 401 else rep_api
    kwargs = {"data": body, "content_type": content_type} if body is not None else {}
    response = getattr(client, method)(path, **kwargs)

    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert error_body(response)  # checks request_id == X-Request-ID


def test_an_error_body_echoes_the_proxys_request_id(rep_api):
    response = rep_api.get("/api/deals/999999/", HTTP_X_REQUEST_ID="proxy-42")
    assert response.json()["request_id"] == response["X-Request-ID"] == "proxy-42"


def test_field_errors_keep_their_shape_beside_the_request_id(rep_api):
    response = rep_api.post("/api/deals/", {"title": "x"}, format="json")
    body = error_body(response)
    assert response.status_code == 400 and body and all(isinstance(v, list) for v in body.values())


def test_the_schema_documents_the_request_id_of_every_error(admin_api):
    schema = admin_api.get("/api/schema/?format=json").json()
    components = schema["components"]["schemas"]
    for name in ("Error", "Conflict"):
        assert "request_id" in components[name]["required"]
        assert components[name]["properties"]["request_id"]["description"] == REQUEST_ID_HELP
    close = schema["paths"]["/api/deals/{id}/close/"]["post"]["responses"]
    invalid = close["400"]["content"]["application/json"]["schema"]
    assert invalid["required"] == ["request_id"]


def test_the_not_found_page_shows_the_request_id(rep_client):
    response = rep_client.get("/no-such-page/", HTTP_X_REQUEST_ID="page-404")
    assert response.status_code == 404
    assert "page-404" in response.content.decode()


def test_the_bad_request_answers_show_the_request_id():
    page_request = RequestFactory().get("/deals/")
    page_request.request_id = "page-400"
    page = bad_request(page_request, Exception())
    assert page.status_code == 400
    assert BAD_REQUEST in page.content.decode() and "page-400" in page.content.decode()

    bind_request_id("api-400")  # as RequestIdMiddleware does
    answer = bad_request(RequestFactory().get("/api/deals/"), Exception())
    bind_request_id(NO_REQUEST)
    assert answer.status_code == 400
    assert json.loads(answer.content) == {"detail": BAD_REQUEST, "request_id": "api-400"}
