"""`manage.py send_test_webhook --tenant IDENTIFIER --provider NAME [--url BASE] [--dry-run]`:
sign a sample notification with the tenant's webhook secret and send it to a running server
(default SITE_URL), or print the request it would send."""

import json
import time
import urllib.error
import urllib.request
import uuid

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tracking.ingest import signature
from tracking.models import TrackingTenant


class Command(BaseCommand):
    help = "Sign and send a sample webhook to a running server (or print it)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="the tenant's identifier")
        parser.add_argument("--provider", required=True, help="e.g. stripe, shopify")
        parser.add_argument("--url", default=settings.SITE_URL, help="the server (SITE_URL)")
        parser.add_argument("--dry-run", action="store_true", help="print the request only")

    def handle(self, *args, tenant, provider, url, dry_run=False, **options):
        found = TrackingTenant.objects.filter(identifier=tenant).first()
        if found is None:
            raise CommandError(f"No tenant {tenant!r}.")
        delivery = uuid.uuid4().hex
        body = json.dumps(
            {"id": delivery, "type": "test.notification", "created": int(time.time()),
             "data": {"message": "A test webhook from send_test_webhook."}}
        ).encode()  # fmt: skip
        stamp = str(int(time.time()))
        address = f"{url.rstrip('/')}/t/webhooks/{provider}/{found.ingestion_key}"
        headers = {
            "Content-Type": "application/json",
            "X-Webhook-Id": delivery,
            "X-Webhook-Timestamp": stamp,
            "X-Webhook-Signature": "sha256="
            + signature(found.webhook_secret, stamp, body, delivery),
        }
        if dry_run:
            self.stdout.write(f"POST {address}")
            for name, value in headers.items():
                self.stdout.write(f"{name}: {value}")
            self.stdout.write("")
            self.stdout.write(body.decode())
            return
        request = urllib.request.Request(address, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                self.stdout.write(self.style.SUCCESS(f"{answer.status} {answer.read().decode()}"))
        except urllib.error.HTTPError as error:
            raise CommandError(f"{error.code} {error.read().decode()[:300]}") from None
        except urllib.error.URLError as error:
            raise CommandError(f"Could not reach {address}: {error.reason}") from None
