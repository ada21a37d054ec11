"""The API's per-token rate limit holds across two web processes through the shared cache
(Redis in the scale-out topology; the Redis-mode pass of scripts/test.sh runs this)."""

import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings

from tests.topology import Topology

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_tokens_api_rate_limit_holds_across_two_web_processes(workspace, api_token, tmp_path):
    if not settings.REDIS_URL:
        pytest.skip("the limit is shared through the cache, which is Redis in the scale-out topology")
    # given a token allowed 20 requests a minute
    api_token.rate_limit_per_minute = 20
    api_token.save()
    with Topology(tmp_path, web=2) as topology:

        def get(i):
            url = topology.web[i % 2] + "/api/v1/contacts/"
            request = urllib.request.Request(url, headers={"Authorization": f"Bearer {api_token.key}"})
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    return response.status
            except urllib.error.HTTPError as exc:
                return exc.code

        # when 60 requests arrive at once, half at each web process
        with ThreadPoolExecutor(max_workers=20) as pool:
            statuses = list(pool.map(get, range(60)))
        topology.assert_alive()
    # then exactly 20 were served and the rest refused, not 20 per process
    assert (statuses.count(200), statuses.count(429)) == (20, 40), sorted(statuses)
