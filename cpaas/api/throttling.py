"""Per-token rate limit (requests per minute, set on each token). Session users share a
per-user limit.

The count lives in the cache, which is Redis in the scale-out topology, so every web process
shares it. DRF's own throttle reads a list of request times, appends and writes it back: two
processes answering at once both read the same list and both let a request through (60 requests
at once on two web processes served 28 of a limit of 20). Here each request is one atomic
INCR of the current minute's counter, and the previous minute's counter is weighted by how much
of it still lies inside the sliding minute: a window that slides without a list, and that
cannot be overrun by concurrent requests. A refused request is taken back out of the count."""

import math

from django.core.cache import cache as default_cache
from rest_framework.throttling import SimpleRateThrottle

from cpaas.metrics import API_REQUESTS
from cpaas.models import ApiToken


class TokenRateThrottle(SimpleRateThrottle):
    scope = "token"
    cache = default_cache

    def allow_request(self, request, view):
        if isinstance(request.auth, ApiToken):
            self.num_requests, self.duration = request.auth.rate_limit_per_minute, 60
            API_REQUESTS.labels(str(request.auth.pk)).inc()
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        current, previous = f"{key}:{window}", f"{key}:{window - 1}"
        self.cache.add(current, 0, self.duration * 2 + 1)
        try:
            count = self.cache.incr(current)
        except ValueError:  # expired between add and incr
            self.cache.add(current, 1, self.duration * 2 + 1)
            count = 1
        self.previous = self.cache.get(previous) or 0
        self.into_window = (self.now % self.duration) / self.duration
        if self.previous * (1 - self.into_window) + count > self.num_requests:
            try:
                self.cache.decr(current)
            except ValueError:
                pass
            self.count = count - 1
            return False
        return True

    def wait(self):
        """Seconds until the weighted count has room again (at most the rest of this minute
        plus the minute after, when the previous minute's weight is what fills the window)."""
        if self.previous:
            # the previous minute's share falls by previous/duration a second
            share = self.previous * (1 - self.into_window)
            excess = share + self.count + 1 - self.num_requests
            if 0 < excess <= share:
                return max(1, math.ceil(excess * self.duration / self.previous))
        return max(1, math.ceil(self.duration - (self.now % self.duration)))

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiToken):
            return f"throttle_token_{request.auth.pk}"
        if request.user and request.user.is_authenticated:
            return f"throttle_user_{request.user.pk}"
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
