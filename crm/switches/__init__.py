"""Switches for a bad day: an administrator pauses an area's jobs, or takes its pages and API
offline (503 with `Retry-After`), without a deploy; and resets the rate-limit counters.

An area is one `crm.areas` registers (goals, supervision, tracking, the core's sales pages).
An app's jobs and home panels belong to the area named like the app. Django admin, the ops
pages, the health check and tracking's ingestion paths are never taken offline: ingestion keeps
accepting (each tenant has its own kill switch) while paused processing leaves rows waiting.

Every flip is a service call (`switch_set`), audited; the states are read from the cache on the
request path and from the database when the cache has none (crm.switches.selectors).
"""
