"""Idempotent writes on the API: a client that may send a write twice (a phone's outbox coming
back online, a retry after a lost answer) names it with an `Idempotency-Key` header, and the
write runs once per key; a second request with the key gets the first one's answer.

- `models.IdempotencyKey`: the store, a table with a unique (user, key). Not the cache: the key's
  row is written in the same transaction as the write it guards, so the two commit or vanish
  together (a crash cannot leave a write done and its key forgotten), and Redis being down or
  flushed cannot make a write run twice.
- `guard.once_per_key`: the hook in the API's base viewset (crm.api.base.ScopedViewSet).
- `services.idempotency_keys_purge`: the hourly job's delete of keys older than a day.
"""
