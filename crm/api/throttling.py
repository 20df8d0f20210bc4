"""DRF throttles that let requests through when the cache (Redis) cannot be reached.

Throttling protects the service; it must not be the reason the whole API answers 500 while
Redis is down (the health check reports that as "degraded").
"""

import logging

from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

logger = logging.getLogger(__name__)


class _FailOpen:
    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception:
            logger.warning("throttle skipped: cache unavailable", exc_info=True)
            return True


class FailOpenAnonRateThrottle(_FailOpen, AnonRateThrottle):
    pass


class FailOpenUserRateThrottle(_FailOpen, UserRateThrottle):
    pass
