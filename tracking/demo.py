"""Demo tracking for `seed_demo`: a demo shop's website (a tenant that accepts events from the
app's own address, so the snippet works from a local page) with three days of visits processed
into sessions and events, and a few imported rows that failed, so that `make run` shows a
populated dashboard."""

import datetime as dt
import random

from crm.demo import DemoContext, demo_seeder
from crm.roles import SystemActor
from tracking import processing, services, tenants
from tracking.models import TrackingTenant

DAYS = 3
PAGES = ["/", "/products", "/products/espresso-machine", "/products/grinder", "/pricing",
         "/blog/brewing-guide", "/contact"]  # fmt: skip
REFERRERS = ["https://www.google.com/", "https://www.bing.com/", "https://news.example.org/",
             None, None]  # fmt: skip
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
]


@demo_seeder("tracking")
def seed_tracking(context: DemoContext) -> None:
    if TrackingTenant.objects.filter(identifier="demo-shop").exists():
        return
    rng = random.Random(f"{context.seed}:tracking")
    actor = SystemActor("seed_demo")
    tenant = services.tenant_create(
        actor=actor, name="Demo shop", identifier="demo-shop",
        allowed_origins=["http://127.0.0.1:8000", "http://localhost:8000"],
    )  # fmt: skip
    tenants.forget(tenant.ingestion_key)
    known = tenants.resolve(tenant.ingestion_key)
    start = context.as_of - dt.timedelta(days=DAYS)
    stored = 0
    for hour in range(DAYS * 24):
        moment = start + dt.timedelta(hours=hour)
        busy = 2 + (6 if 8 <= moment.hour <= 20 else 0)
        for visit in range(rng.randint(busy // 2, busy)):
            session = f"demo-{hour}-{visit}"
            at = moment + dt.timedelta(minutes=rng.randint(0, 50))
            events = []
            for step in range(rng.randint(1, 6)):
                events.append({
                    "evt_type": "page_view", "session_id": session,
                    "url": f"http://127.0.0.1:8000{rng.choice(PAGES)}",
                    "referrer": rng.choice(REFERRERS) if step == 0 else None,
                    "timestamp": (at + dt.timedelta(seconds=40 * step)).isoformat(),
                    "uuid": f"{session}-{step}",
                })  # fmt: skip
            if rng.random() < 0.15:
                events.append({"evt_type": "add_to_cart", "session_id": session,
                               "props": {"sku": rng.choice(["EM-1", "GR-2"])},
                               "timestamp": (at + dt.timedelta(minutes=5)).isoformat(),
                               "uuid": f"{session}-cart"})  # fmt: skip
            result = services.ingest(
                tenant=known, events=events, ip=f"198.51.100.{rng.randint(1, 254)}",
                user_agent=rng.choice(AGENTS), source="js",
                received_at=at + dt.timedelta(seconds=2),
            )  # fmt: skip
            stored += result.stored
    # An import that went wrong: rows without an event type, FAILED after processing.
    services.ingest(
        tenant=known, events=[{"name": "legacy row", "id": f"legacy-{n}"} for n in range(3)],
        ip=None, user_agent="", source="import", checked=False,
        received_at=context.as_of - dt.timedelta(hours=2),
    )  # fmt: skip
    processing.process_pending()
    # And what arrived in the last minutes, not processed yet: the backlog the dashboard shows.
    services.ingest(
        tenant=known, events=[{"evt_type": "page_view", "session_id": "demo-now", "url":
                               "http://127.0.0.1:8000/", "uuid": "demo-now"}],
        ip=None, user_agent=AGENTS[0], source="js", received_at=context.as_of,
    )  # fmt: skip
    context.count("tracking events", stored + 4)
