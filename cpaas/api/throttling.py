"""Per-token rate limit (requests per minute, set on each token). Session users share a
per-user limit."""

from rest_framework.throttling import SimpleRateThrottle

from cpaas.models import ApiToken


class TokenRateThrottle(SimpleRateThrottle):
    scope = "token"

    def allow_request(self, request, view):
        if isinstance(request.auth, ApiToken):
            self.num_requests, self.duration = request.auth.rate_limit_per_minute, 60
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiToken):
            return f"throttle_token_{request.auth.pk}"
        if request.user and request.user.is_authenticated:
            return f"throttle_user_{request.user.pk}"
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
