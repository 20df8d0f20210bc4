"""Allowed origins: one a line in Django admin, each checked (scheme://host[:port], no path, no
wildcard but * alone) with an error naming the bad line, kept as a browser writes it in its
Origin header (or it would never match); bad input never a 500."""

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tracking import origins
from tracking.models import TrackingTenant
from tracking.tests.helpers import make_tenant, post_event

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ("https://shop.example.com", "https://shop.example.com"),
        ("  HTTPS://Shop.Example.COM/  ", "https://shop.example.com"),
        ("https://shop.example.com:443", "https://shop.example.com"),
        ("http://shop.example.com:80/", "http://shop.example.com"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://[::1]:3000", "http://[::1]:3000"),
        ("https://[2001:DB8:0:0::1]", "https://[2001:db8::1]"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),
        ("https://my_host.internal:8443", "https://my_host.internal:8443"),
        ("*", "*"),
    ],
)
@pytest.mark.sqlite
def test_an_origin_is_kept_as_a_browser_writes_it(written, kept):
    assert origins.origin_of(written) == kept


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("shop.example.com", origins.NO_SCHEME),
        ("ftp://shop.example.com", origins.BAD_SCHEME),
        ("chrome-extension://abc", origins.BAD_SCHEME),
        ("https://shop.example.com/checkout", origins.HAS_PATH),
        ("https://shop.example.com?x=1", origins.HAS_PATH),
        ("https://shop.example.com#top", origins.HAS_PATH),
        ("https://shop.example.com?", origins.HAS_PATH),
        ("https://*.example.com", origins.WILDCARD),
        ("https://shop.example.*", origins.WILDCARD),
        ("*.example.com", origins.WILDCARD),
        ("https://user:pass@shop.example.com", origins.HAS_USER),
        ("https://shop.example.com:0", origins.BAD_PORT),
        ("https://shop.example.com:", origins.BAD_PORT),
        ("https://shop.example.com:99999", origins.BAD_PORT),
        ("https://shop.example.com:1e309", origins.BAD_PORT),
        ("https://shop.example.com:1.9", origins.BAD_PORT),
        ("https://", origins.BAD_HOST),
        ("https://:8080", origins.BAD_HOST),
        ("https://shop..example.com", origins.BAD_HOST),
        ("https://sh op.example.com", origins.NOT_AN_ORIGIN),
        ("https://shop\x00.example.com", origins.NOT_AN_ORIGIN),
        ("https://[::1", origins.BAD_PORT),
        ("https://[not:an:address::zz]", origins.BAD_HOST),
        ("https://" + "a" * 64 + ".example.com", origins.BAD_HOST),
        ("https://" + "a" * 300 + ".com", origins.TOO_LONG),
        ("1e309", origins.NO_SCHEME),
        ("0001-01-01", origins.NO_SCHEME),
    ],
)
@pytest.mark.sqlite
def test_a_line_that_is_not_an_origin_says_what_is_wrong_with_it(written, message):
    with pytest.raises(ValidationError) as refused:
        origins.origin_of(written, line=3)
    said = refused.value.messages[0]
    assert said.startswith("Line 3")
    assert said.split(":")[0] == message.split(":")[0].format(line=3)


@pytest.mark.sqlite
def test_every_bad_line_is_named_and_good_ones_are_read_in_order():
    text = "https://a.example\n\n  http://b.example:8080/ \nhttps://a.example\nb.example\n"
    with pytest.raises(ValidationError) as refused:
        origins.parse_origins(text)
    assert refused.value.messages == [
        origins.DUPLICATE.format(line=4, value="https://a.example"),
        origins.NO_SCHEME.format(line=5, value="b.example"),
    ]
    assert origins.parse_origins("https://a.example\r\n\r\nhttp://b.example:8080/") == [
        "https://a.example", "http://b.example:8080",
    ]  # fmt: skip
    too_many = "\n".join(f"https://{n}.example" for n in range(origins.MAX_ORIGINS + 1))
    with pytest.raises(ValidationError, match="At most 100"):
        origins.parse_origins(too_many)


def _admin_form(**changes) -> dict:
    return {"name": "Shop", "identifier": "shop", "ip_handling": "truncate",
            "bot_handling": "flag", "active": "on", **changes}  # fmt: skip


def test_admin_shows_the_bad_line_next_to_the_field_and_keeps_what_was_typed(admin_client):
    typed = "https://shop.example.com\nhttps://*.example.com/\nhttps://ok.example:8443"
    answer = admin_client.post("/admin/tracking/trackingtenant/add/",
                               _admin_form(allowed_origins=typed))  # fmt: skip
    html = answer.content.decode()

    assert answer.status_code == 200  # Django admin's form again, with the error
    assert not TrackingTenant.objects.exists()
    form = answer.context["adminform"].form
    assert form.errors["allowed_origins"] == [
        origins.WILDCARD.format(line=2, value="https://*.example.com/")
    ]
    assert "Line 2: “https://*.example.com/”" in html
    assert "https://ok.example:8443</textarea>" in html  # what was typed, to fix


@pytest.mark.parametrize(
    "value",
    ["https://a.example\x00", "1e309", "1.9", "0001-01-01T00:00:00", "9999-12-31",
     "[\"https://a.example\"]", "x" * 40_000, "https://a.example\n" * 101],
)  # fmt: skip
def test_admin_refuses_bad_origins_without_a_500(admin_client, value):
    answer = admin_client.post("/admin/tracking/trackingtenant/add/",
                               _admin_form(allowed_origins=value))  # fmt: skip
    assert answer.status_code == 200 and answer.context["adminform"].form.errors
    assert not TrackingTenant.objects.exists()


def test_admin_takes_a_list_where_one_text_is_expected_without_a_500(admin_client):
    answer = admin_client.post(
        "/admin/tracking/trackingtenant/add/",
        {**_admin_form(), "allowed_origins": ["https://a.example", "https://b.example"]},
    )
    assert answer.status_code in (200, 302)  # (a form reads the last value of a list)


def test_an_unchanged_list_of_origins_is_not_audited_as_a_change(admin_client):
    from crm.models import AuditEntry

    tenant = make_tenant(allowed_origins=["https://a.example", "https://b.example"])
    saved = admin_client.post(
        f"/admin/tracking/trackingtenant/{tenant.pk}/change/",
        {**_admin_form(name="Renamed"), "allowed_origins": "https://a.example\r\nhttps://b.example\r\n"},
    )  # fmt: skip
    entry = AuditEntry.objects.filter(action="admin.change").get()
    assert saved.status_code == 302 and list(entry.changes) == ["name"]


def test_services_and_the_model_keep_to_the_same_rules():
    kept = make_tenant("kept", allowed_origins=["HTTPS://Shop.Example.com/"])
    assert kept.allowed_origins == ["https://shop.example.com"]
    for bad in (["https://*.example.com"], "https://a.example", [1], ["a\nb"], {"a": 1}):
        with pytest.raises(ValidationError) as refused:
            make_tenant("bad", allowed_origins=bad)
        assert "allowed_origins" in refused.value.message_dict


def test_an_origin_written_any_way_matches_what_the_browser_sends(client, admin_client):
    admin_client.post("/admin/tracking/trackingtenant/add/",
                      _admin_form(allowed_origins="HTTPS://Shop.Example.COM:443/"))  # fmt: skip
    tenant = TrackingTenant.objects.get()
    answer = post_event(client, tenant, {"evt_type": "x"}, origin="https://shop.example.com")
    assert answer.status_code == 200 and answer["Access-Control-Allow-Origin"] == (
        "https://shop.example.com"
    )


@hypothesis_settings(max_examples=150, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(text=st.text(max_size=120) | st.lists(
    st.sampled_from(["https://", "http://", "*", ".", ":", "/", "[", "]", "@", "?", "#", "%",
                     "a", "é", "1", "\x00", "\n", " ", "xn--", "::1", "65536", "ß"]),
    max_size=25).map("".join))  # fmt: skip
@pytest.mark.sqlite
def test_any_text_is_read_or_refused_with_a_line_never_an_exception(text):
    try:
        read = origins.parse_origins(text)
    except ValidationError as refused:
        assert all(m.startswith(("Line ", "At most")) for m in refused.messages)
        return
    for origin in read:  # what is kept reads back as itself
        assert origins.origin_of(origin) == origin
