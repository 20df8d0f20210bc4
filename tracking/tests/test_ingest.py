"""The ingestion endpoints through HTTP: bodies of every kind, partial success, exactly once,
keys, origins and the kill switch, bots, rate limits (failing open), client addresses, the bad
input the issue names (never a 500, never a half-stored batch), the hot path's queries."""

import datetime as dt
import gzip
import json
import time

import pytest
from django.db import connection

from crm.testing import statements
from crm.testing.servers import free_port
from tracking import contract, processing, services
from tracking.ingest import KILL_SWITCH, ORIGIN_REFUSED, UNKNOWN_KEY
from tracking.models import BotHandling, RawEvent, RawStatus, TrackedEvent, TrackedSession
from tracking.tests.helpers import ORIGIN, make_tenant, post_batch, post_event

pytestmark = pytest.mark.django_db


def test_one_event_is_stored_raw_with_what_the_server_knows(client, tenant):
    sent = {"evt_type": "page_view", "uuid": "e-1", "session_id": "s-1",
            "url": "https://shop.example.com/p?q=1", "props": {"title": "Home"},
            "timestamp": "2026-01-01T10:00:00Z"}  # fmt: skip
    answer = post_event(client, tenant, sent, REMOTE_ADDR="203.0.113.77")

    assert answer.status_code == 200
    assert answer.json() == {
        "accepted": 1, "duplicates": 0, "rejected": [], "results": [{"status": "stored"}],
    }  # fmt: skip
    raw = RawEvent.objects.get()
    assert raw.payload == sent  # as it came
    assert (raw.event_id, raw.record_source, raw.status) == ("e-1", "api", RawStatus.PENDING)
    assert raw.client_timestamp == dt.datetime(2026, 1, 1, 10, tzinfo=dt.UTC)
    assert raw.clock_skew  # long before it was received: flagged, kept
    assert raw.client_ip == "203.0.113.0"  # the tenant truncates addresses by default


@pytest.mark.parametrize(
    ("content_type", "encode", "gzipped"),
    [
        ("application/json", lambda body: body, False),
        ("text/plain", lambda body: body, False),  # what sendBeacon sends
        ("application/json", lambda body: body, True),
        ("application/x-www-form-urlencoded", lambda body: "data=" + body, False),
    ],
)
@pytest.mark.sqlite
def test_a_batch_in_every_form_a_client_sends_it(client, tenant, content_type, encode, gzipped):
    body = json.dumps({"batch": [{"evt_type": "click"}, {"evt_type": "scroll"}]})
    if content_type.startswith("application/x-www"):
        from urllib.parse import quote

        body = "data=" + quote(body)
    else:
        body = encode(body)
    data = gzip.compress(body.encode()) if gzipped else body
    headers = {"HTTP_CONTENT_ENCODING": "gzip"} if gzipped else {}
    answer = post_event(client, tenant, data, path="/t/batch", content_type=content_type, **headers)

    assert answer.status_code == 200, answer.json()
    assert answer.json()["accepted"] == 2 and RawEvent.objects.count() == 2


@pytest.mark.sqlite
def test_gzip_is_recognised_by_its_magic_bytes_too(client, tenant):
    answer = post_batch(client, tenant, [{"evt_type": "a"}], gzipped=True)
    assert answer.status_code == 200 and RawEvent.objects.count() == 1


@pytest.mark.sqlite
def test_a_batch_stores_its_good_events_and_says_why_each_bad_one_was_refused(client, tenant):
    events = [
        {"evt_type": "ok"},
        {"props": {}},
        {"evt_type": ""},
        {"evt_type": "x" * 65},
        {"evt_type": 7},
        [1, 2],
        {"evt_type": "ok", "timestamp": "yesterday"},
        {"evt_type": "ok", "props": [1]},
        {"evt_type": "ok", "note": "=1+2"},
    ]
    answer = post_batch(client, tenant, events)

    assert answer.status_code == 200
    reasons = [contract.EVT_TYPE_MISSING, contract.EVT_TYPE_EMPTY, contract.EVT_TYPE_TOO_LONG,
               contract.EVT_TYPE_NOT_STRING, contract.NOT_AN_OBJECT, contract.TIMESTAMP_BAD,
               contract.PROPS_BAD]  # fmt: skip
    assert answer.json() == {
        "accepted": 2,
        "duplicates": 0,
        "rejected": [{"index": n, "reason": reason} for n, reason in enumerate(reasons, 1)],
        "results": [
            {"status": "stored"},
            *({"status": "rejected", "reason": reason} for reason in reasons),
            {"status": "stored"},
        ],
    }
    kept = list(RawEvent.objects.order_by("id").values_list("payload", flat=True))
    assert kept[1] == {"evt_type": "ok", "note": "=1+2"}  # stored as it came
    assert services.drop_counts(tenant.pk)["rejected"] == 7


@pytest.mark.sqlite
def test_a_re_sent_event_is_accepted_and_stored_once(client, tenant):
    event = {"evt_type": "signup", "uuid": "same"}
    first = post_event(client, tenant, event)
    again = post_batch(client, tenant, [event, event, {"evt_type": "signup", "uuid": "other"}])

    assert first.json()["accepted"] == 1 and again.json()["accepted"] == 3
    assert sorted(RawEvent.objects.values_list("event_id", flat=True)) == ["other", "same"]


@pytest.mark.sqlite
def test_the_answer_says_of_each_event_stored_duplicate_or_rejected(client, tenant):
    post_event(client, tenant, {"evt_type": "signup", "uuid": "known"})
    again = post_event(client, tenant, {"evt_type": "signup", "uuid": "known"})
    batch = post_batch(client, tenant, [
        {"evt_type": "a", "uuid": "known"},  # stored before
        {"evt_type": "b", "uuid": "twice"},  # new…
        {"evt_type": "b", "uuid": "twice"},  # …and the same again in the same batch
        {"evt_type": ""},
        {"evt_type": "c"},  # no id: always new
    ])  # fmt: skip

    assert again.status_code == 200  # a duplicate is accepted: nothing to send again
    assert again.json() == {"accepted": 1, "duplicates": 1, "rejected": [],
                            "results": [{"status": "duplicate"}]}  # fmt: skip
    assert batch.status_code == 200
    assert batch.json() == {
        "accepted": 4,
        "duplicates": 2,
        "rejected": [{"index": 3, "reason": contract.EVT_TYPE_EMPTY}],
        "results": [
            {"status": "duplicate"},
            {"status": "stored"},
            {"status": "duplicate"},
            {"status": "rejected", "reason": contract.EVT_TYPE_EMPTY},
            {"status": "stored"},
        ],
    }
    assert RawEvent.objects.count() == 3


@pytest.mark.sqlite
def test_a_long_batch_of_named_events_says_which_were_stored_before(client, tenant):
    # More than one SQLite statement's worth (50 rows), half of them sent before.
    events = [{"evt_type": "x", "uuid": f"e-{n}"} for n in range(120)]
    post_batch(client, tenant, events[::2])
    answer = post_batch(client, tenant, events).json()

    assert (answer["accepted"], answer["duplicates"]) == (120, 60)
    assert answer["results"] == [
        {"status": "duplicate" if n % 2 == 0 else "stored"} for n in range(120)
    ]
    assert RawEvent.objects.count() == 120


@pytest.mark.sqlite
def test_what_json_cannot_hold_and_what_only_looks_like_a_limit(client, tenant):
    # 1e309 reads as infinity: that event is refused, the others kept.
    body = b'{"batch": [{"evt_type": "x", "props": {"n": 1e309}}, {"evt_type": "ok"}]}'
    infinite = post_event(client, tenant, body, path="/t/batch")
    # Text that looks like an escaped NUL, brackets in a string, an id with quotes in it.
    looks = post_batch(client, tenant, [
        {"evt_type": "x", "props": {"s": "\\u0000 is how JSON writes NUL"}},
        {"evt_type": "x", "props": {"s": "[[[[[[[[[[[[[[[[[[[[[[[[{{{{{{{{"}},
        {"evt_type": "x", "uuid": 'a "quoted" \\ id'},
    ])  # fmt: skip

    assert infinite.json() == {
        "accepted": 1,
        "duplicates": 0,
        "rejected": [{"index": 0, "reason": contract.NUMBER_BAD}],
        "results": [{"status": "rejected", "reason": contract.NUMBER_BAD}, {"status": "stored"}],
    }
    assert looks.json()["accepted"] == 3 and looks.json()["rejected"] == []
    assert RawEvent.objects.filter(event_id='a "quoted" \\ id').exists()
    kept = RawEvent.objects.filter(payload__props__s__startswith="\\u0000")
    assert kept.get().payload["props"]["s"] == "\\u0000 is how JSON writes NUL"


def test_ids_the_server_gives_are_time_ordered_uuid7s():
    first = services.new_event_ids(1)[0]
    time.sleep(0.002)
    later = services.new_event_ids(1)[0]

    assert len(first) == 32 and first[12] == "7" and first[16] in "89ab"
    assert first[:12] < later[:12]  # the millisecond leads: new rows at the index's edge
    assert len(set(services.new_event_ids(10_000))) == 10_000


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (b"{not json", 400, None),
        (b"[1, 2, 3]", 400, None),
        (b"\xff\xfe\x00 not utf-8", 400, contract.NOT_UTF8),
        (b"[" * 100_000 + b"]" * 100_000, 400, contract.TOO_DEEP),
        (b"NaN", 400, None),
        (b"", 400, None),
    ],
)
@pytest.mark.sqlite
def test_a_body_that_is_not_an_event_is_a_400_and_stores_nothing(
    client, tenant, body, status, reason
):
    answer = post_event(client, tenant, body)
    assert answer.status_code == status
    if reason:
        assert answer.json()["error"] == reason
    assert not RawEvent.objects.exists()


@pytest.mark.sqlite
def test_limits_before_parsing_and_per_event(client, tenant):
    big_body = post_event(client, tenant, b'{"evt_type": "x", "p": "' + b"a" * 1_100_000 + b'"}')
    empty = post_batch(client, tenant, [])
    zeros = gzip.compress(b'{"batch": [' + b" " * (6 * 1024 * 1024) + b"]}")
    gzip_bomb = post_event(client, tenant, zeros, path="/t/batch")
    too_many = post_batch(client, tenant, [{"evt_type": "x"}] * 501)
    big_event = post_batch(client, tenant, [{"evt_type": "x", "p": "a" * 7000, "q": "b" * 7000,
                                            "r": "c" * 7000, "s": "d" * 7000, "t": "e" * 7000},
                                           {"evt_type": "fine"}])  # fmt: skip
    deep = {"evt_type": "deep", "props": {}}
    level = deep["props"]
    for _ in range(25):
        level["x"] = {}
        level = level["x"]
    nested = post_batch(client, tenant, [deep])
    long_string = post_batch(client, tenant, [{"evt_type": "x", "props": {"s": "a" * 9000}}])
    nul = post_batch(client, tenant, [{"evt_type": "x", "props": {"s": "a\x00b"}}])

    assert big_body.status_code == 413
    assert empty.status_code == 400 and empty.json()["error"] == contract.BATCH_EMPTY
    assert (
        gzip_bomb.status_code == 413
        and gzip_bomb.json()["error"] == contract.DECOMPRESSED_TOO_LARGE
    )
    assert too_many.status_code == 400 and too_many.json()["error"] == contract.BATCH_TOO_LARGE
    assert big_event.status_code == 200
    assert big_event.json()["rejected"] == [{"index": 0, "reason": contract.EVENT_TOO_LARGE}]
    assert nested.json()["rejected"] == [{"index": 0, "reason": contract.EVENT_TOO_DEEP}]
    assert long_string.json()["rejected"][0]["reason"] == contract.STRING_TOO_LONG
    assert nul.json()["rejected"][0]["reason"] == contract.NUL_CHARACTER
    assert RawEvent.objects.count() == 1  # the one good event of all those requests


def test_half_a_character_is_refused_with_its_event_and_the_rest_kept(client, tenant):
    # JSON can write an unpaired UTF-16 surrogate; no UTF-8 text (or PostgreSQL) can hold it.
    half = b'{"evt_type": "x", "props": {"s": "\\ud800"}}'
    one = post_event(client, tenant, half)
    batch = post_event(client, tenant, b'{"batch": [' + half + b', {"evt_type": "ok"}, '
                       b'{"evt_type": "pair", "props": {"s": "\\ud83d\\ude00"}}]}',
                       path="/t/batch")  # fmt: skip

    assert one.status_code == 400
    assert one.json()["rejected"] == [{"index": 0, "reason": contract.NOT_UNICODE}]
    assert batch.status_code == 200
    assert batch.json()["accepted"] == 2
    assert batch.json()["rejected"] == [{"index": 0, "reason": contract.NOT_UNICODE}]
    assert RawEvent.objects.get(payload__evt_type="pair").payload["props"]["s"] == "\U0001f600"
    assert RawEvent.objects.count() == 2


@pytest.mark.sqlite
def test_keys_the_kill_switch_and_origins(client, tenant):
    other = make_tenant("other", allowed_origins=["https://other.example.com"])
    inactive = make_tenant("gone", active=False)
    stopped = make_tenant("stopped", kill_switch=True)

    unknown = post_event(client, "pk_nobody", {"evt_type": "x"})
    no_key = client.post("/t/e", "{}", content_type="application/json")
    gone = post_event(client, inactive, {"evt_type": "x"})
    killed = post_event(client, stopped, {"evt_type": "x"})
    foreign = post_event(client, tenant, {"evt_type": "x"}, origin="https://other.example.com")
    theirs = post_event(client, other, {"evt_type": "x"}, origin="https://other.example.com")
    mine = post_event(client, tenant, {"evt_type": "x"}, origin=ORIGIN)

    assert unknown.status_code == no_key.status_code == gone.status_code == 401
    assert unknown.json()["error"] == UNKNOWN_KEY
    assert killed.status_code == 403 and killed.json()["error"] == KILL_SWITCH
    assert foreign.status_code == 403 and foreign.json()["error"] == ORIGIN_REFUSED
    assert mine["Access-Control-Allow-Origin"] == ORIGIN
    assert theirs.status_code == 200
    # Each key writes to its own tenant only.
    assert list(RawEvent.objects.values_list("tenant_id", "record_source").order_by("id")) == [
        (other.pk, "js"), (tenant.pk, "js"),
    ]  # fmt: skip


@pytest.mark.sqlite
def test_the_cors_preflight_answers_for_allowed_origins_only(client, tenant):
    allowed = client.options(f"/t/batch?key={tenant.ingestion_key}", HTTP_ORIGIN=ORIGIN)
    refused = client.options(
        f"/t/batch?key={tenant.ingestion_key}", HTTP_ORIGIN="https://evil.test"
    )
    assert allowed.status_code == 204 and allowed["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in allowed["Access-Control-Allow-Methods"]
    assert refused.status_code == 403 and not refused.has_header("Access-Control-Allow-Origin")


SERVER_AGENTS = ["curl/8.4.0", "python-requests/2.32", "Go-http-client/1.1", "",
                 "Googlebot/2.1 (+http://www.google.com/bot.html)"]  # fmt: skip
BOT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/120 Safari/537.36"


@pytest.mark.parametrize("agent", SERVER_AGENTS)
@pytest.mark.sqlite
def test_a_server_sending_with_the_key_is_stored_whatever_its_user_agent(client, tenant, agent):
    # What the tenant's page tells an integrator to run: curl, without an Origin header.
    answer = post_event(client, tenant, {"evt_type": "test_event"}, HTTP_USER_AGENT=agent)

    assert answer.status_code == 200
    assert answer.json()["results"] == [{"status": "stored"}] and "bot" not in answer.json()
    raw = RawEvent.objects.get()
    assert (raw.bot, raw.record_source, raw.user_agent) == (False, "api", agent)
    counts = services.drop_counts(tenant.pk)
    assert counts["bot"] == counts["bot_flagged"] == 0


@pytest.mark.parametrize(
    "agent", ["Googlebot/2.1 (+http://www.google.com/bot.html)", BOT, "curl/8.4.0", ""]
)
@pytest.mark.sqlite
def test_a_browsers_bot_is_stored_flagged_and_counted_and_kept_out_of_sessions(
    client, tenant, agent
):
    answer = post_batch(client, tenant, [
        {"evt_type": "page_view", "session_id": "crawl", "url": "https://shop.example.com/"},
        {"evt_type": "click", "session_id": "crawl"},
    ], origin=ORIGIN, HTTP_USER_AGENT=agent)  # fmt: skip

    assert answer.status_code == 200
    body = answer.json()
    assert body["bot"] == "flagged" and body["accepted"] == 2
    assert body["results"] == [{"status": "stored", "bot": True}] * 2
    assert list(RawEvent.objects.values_list("bot", flat=True)) == [True, True]
    assert services.drop_counts(tenant.pk)["bot_flagged"] == 2

    processing.process_pending()  # (the embedded mode may have processed them already)
    assert not RawEvent.objects.exclude(status=RawStatus.PROCESSED).exists()
    assert not TrackedEvent.objects.exists() and not TrackedSession.objects.exists()


@pytest.mark.sqlite
def test_a_tenant_that_drops_bots_says_so_of_each_event_and_counts_them(client):
    dropping = make_tenant("dropping", bot_handling=BotHandling.DROP)
    answer = post_batch(client, dropping, [{"evt_type": "a"}, {"evt_type": "b"}, {}],
                        origin=ORIGIN, HTTP_USER_AGENT=BOT)  # fmt: skip
    server = post_event(client, dropping, {"evt_type": "c"}, HTTP_USER_AGENT="curl/8.4.0")

    assert answer.status_code == 202
    assert answer.json() == {
        "accepted": 0, "duplicates": 0, "rejected": [], "results": [services.DROPPED] * 3,
        "bot": "dropped", "ignored": "bot",
    }  # fmt: skip
    assert services.DROPPED == {"status": "dropped", "reason": services.BOT_DROPPED}
    assert server.status_code == 200  # a server is never taken for a bot
    assert list(RawEvent.objects.values_list("payload__evt_type", flat=True)) == ["c"]
    assert services.drop_counts(dropping.pk)["bot"] == 3


@pytest.mark.sqlite
def test_a_browser_that_says_it_is_no_bot_is_stored_as_a_person(client, tenant):
    one = post_event(client, tenant, {"evt_type": "a", "skip_bot_filter": True},
                     origin=ORIGIN, HTTP_USER_AGENT=BOT)  # fmt: skip
    batch = post_event(client, tenant, {"batch": [{"evt_type": "b"}], "skip_bot_filter": True},
                       path="/t/batch", origin=ORIGIN, HTTP_USER_AGENT=BOT)  # fmt: skip
    not_skipped = post_event(client, tenant, {"evt_type": "c", "skip_bot_filter": False},
                             origin=ORIGIN, HTTP_USER_AGENT=BOT)  # fmt: skip

    assert one.json()["results"] == batch.json()["results"] == [{"status": "stored"}]
    assert not_skipped.json()["bot"] == "flagged"
    flags = dict(RawEvent.objects.values_list("payload__evt_type", "bot"))
    assert flags == {"a": False, "b": False, "c": True}


@pytest.mark.parametrize("flag", ["yes", 1, 0, None, [True], {"a": 1}, "true"])
@pytest.mark.sqlite
def test_a_skip_bot_filter_that_is_not_true_or_false_is_a_400(client, tenant, flag):
    body = {"evt_type": "a", "skip_bot_filter": flag}
    one = post_event(client, tenant, body, origin=ORIGIN, HTTP_USER_AGENT=BOT)
    batch = post_batch(client, tenant, [body])  # (in an event of a batch: kept as it came)
    envelope = post_event(client, tenant, {"batch": [{"evt_type": "b"}], "skip_bot_filter": flag},
                          path="/t/batch")  # fmt: skip

    if flag is None:  # as good as absent
        assert one.status_code == envelope.status_code == 200
        return
    assert one.status_code == envelope.status_code == 400
    assert one.json() == envelope.json() == {"error": contract.SKIP_BOT_FILTER_BAD}
    assert batch.status_code == 200
    assert list(RawEvent.objects.values_list("payload__evt_type", flat=True)) == ["a"]


@pytest.mark.sqlite
def test_past_the_rate_limit_is_a_429_with_retry_after_and_counted(client, settings):
    limited = make_tenant("busy", rate_per_minute=3)
    answers = [post_event(client, limited, {"evt_type": "x"}).status_code for _ in range(5)]
    last = post_event(client, limited, {"evt_type": "x"})

    assert answers == [200, 200, 200, 429, 429]
    assert 1 <= int(last["Retry-After"]) <= 60
    assert RawEvent.objects.count() == 3
    assert services.drop_counts(limited.pk)["rate_limited"] == 3


@pytest.mark.sqlite
def test_a_browser_client_has_its_own_share_of_the_tenants_rate(client, tenant, settings):
    settings.TRACKING_CLIENT_RATE_PER_MINUTE = 2
    one = [post_event(client, tenant, {"evt_type": "x"}, origin=ORIGIN, REMOTE_ADDR="198.51.100.1")
           .status_code for _ in range(3)]  # fmt: skip
    other = post_event(client, tenant, {"evt_type": "x"}, origin=ORIGIN, REMOTE_ADDR="198.51.100.2")
    assert one == [200, 200, 429] and other.status_code == 200


@pytest.mark.sqlite
def test_with_the_rate_limiters_store_down_events_are_still_taken(client, tenant, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    answer = post_event(client, tenant, {"evt_type": "x"})
    health = client.get("/health/").json()
    assert answer.status_code == 200 and RawEvent.objects.count() == 1
    assert health["status"] == "degraded" and health["checks"]["cache"]["status"] == "degraded"


@pytest.mark.sqlite
def test_the_client_address_comes_from_trusted_proxies_only(client, settings):
    settings.TRACKING_TRUSTED_PROXIES = ["10.0.0.0/8"]
    from tracking import clients

    clients._trusted.cache_clear()
    clients.client_ip.cache_clear()
    try:
        kept = make_tenant("kept", ip_handling="store")
        spoofed = post_event(client, kept, {"evt_type": "a"}, REMOTE_ADDR="203.0.113.5",
                             HTTP_X_FORWARDED_FOR="1.2.3.4")  # fmt: skip
        proxied = post_event(client, kept, {"evt_type": "b"}, REMOTE_ADDR="10.1.2.3",
                             HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.9, 10.9.9.9")  # fmt: skip
    finally:
        clients._trusted.cache_clear()
        clients.client_ip.cache_clear()
    assert spoofed.status_code == proxied.status_code == 200
    addresses = dict(RawEvent.objects.values_list("payload__evt_type", "client_ip"))
    assert addresses == {"a": "203.0.113.5", "b": "198.51.100.9"}


@pytest.mark.parametrize(
    ("handling", "address", "kept"),
    [("store", "2001:db8:1234:5678::1", "2001:db8:1234:5678::1"),
     ("truncate", "2001:db8:1234:5678::1", "2001:db8:1234::"),
     ("truncate", "192.0.2.200", "192.0.2.0"), ("drop", "192.0.2.200", None)],
)  # fmt: skip
@pytest.mark.sqlite
def test_each_tenant_keeps_addresses_its_way(client, handling, address, kept):
    tenant = make_tenant(f"ip-{handling}", ip_handling=handling)
    post_event(client, tenant, {"evt_type": "x"}, REMOTE_ADDR=address)
    assert RawEvent.objects.get().client_ip == kept


@pytest.mark.parametrize(
    ("named", "options"),
    [(False, {}), (True, {}), (True, {"origin": ORIGIN}),
     (False, {"origin": ORIGIN, "HTTP_USER_AGENT": "Mozilla/5.0 HeadlessChrome/120"})],
)  # fmt: skip
def test_the_hot_path_runs_one_statement_once_the_key_is_known(
    client, tenant, named, options, assert_queries
):
    post_event(client, tenant, {"evt_type": "warm"})
    events = [{"evt_type": f"e{n}", **({"uuid": f"u{n}"} if named else {})} for n in range(100)]
    with assert_queries(2) as queries:  # the batch's INSERT, the single event's
        answer = post_batch(client, tenant, events, **options)
        single = post_event(client, tenant, {"evt_type": "one"}, **options)
    work = statements(queries)
    assert answer.json()["accepted"] == 100 and single.json()["accepted"] == 1
    assert all(sql.startswith("INSERT INTO") for sql in work)
    # Only ids a client chose can have been stored before: only then are stored ids returned.
    assert ("RETURNING" in work[0]) == named and "RETURNING" not in work[1]


def test_storage_failing_is_a_503_to_retry(client, tenant):
    from crm.testing.database import database_elsewhere

    post_event(client, tenant, {"evt_type": "warm"})  # the key is known: no query for it
    with database_elsewhere(PORT=str(free_port())):
        answer = post_event(client, tenant, {"evt_type": "x"})
    assert answer.status_code == 503 and answer["Retry-After"] == "5"


@pytest.mark.django_db(transaction=True)  # the view's statement fails alone, as in production
def test_a_tenant_deleted_while_its_key_is_cached_is_a_401_and_stores_nothing(client, role_groups):
    gone = make_tenant("gone")
    post_event(client, gone, {"evt_type": "warm"})  # the key is known (cached)
    RawEvent.objects.all().delete()
    gone.delete()  # no forgetting: as if another process deleted it a second ago

    answer = post_event(client, gone, {"evt_type": "x"})

    assert answer.status_code == 401 and answer.json()["error"] == UNKNOWN_KEY
    assert not RawEvent.objects.exists()


@pytest.mark.sqlite
def test_in_the_embedded_mode_events_are_processed_as_they_arrive(client, tenant):

    from tracking.models import TrackedEvent

    if connection.vendor != "sqlite":
        pytest.skip("the embedded default (SQLite, no broker: tasks run in the process)")
    from tracking import tasks

    tasks._last_asked = 0.0  # (no other request asked within the second)
    post_event(client, tenant, {"evt_type": "page_view", "session_id": "s"})
    assert TrackedEvent.objects.filter(evt_type="page_view").exists()
