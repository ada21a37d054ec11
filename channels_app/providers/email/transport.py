"""A `requests` transport for anymail's ESP backends that goes through providers/http.py.

Anymail's backends call their ESP with `requests`, whose timeout bounds each read, not the call,
and which connects wherever the (admin-typed) API URL's host resolves. Mounted on the backend's
session, this adapter gives those calls what every provider call has here: a total deadline
(the watchdog), the public-address check with the connection pinned to the checked address
(SSRF), and which side of the line a failure fell (`failure`: "refused", "not_sent" or
"ambiguous"), read by the provider after anymail has wrapped the exception."""

from __future__ import annotations

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

from .. import http


class DeadlineAdapter(BaseAdapter):
    def __init__(self, deadline: float):
        super().__init__()
        self.deadline = deadline
        self.failure = ""  # "refused" | "not_sent" | "ambiguous"
        self.reason = ""

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        body = request.body
        if isinstance(body, str):
            body = body.encode()
        headers = {k: v for k, v in request.headers.items()}
        try:
            status, answer_headers, data = http.call(
                request.method, request.url, headers=headers, body=body, deadline=self.deadline
            )
        except http.Refused as exc:
            self.failure, self.reason = "refused", str(exc)
            raise requests.ConnectionError(str(exc), request=request) from None
        except http.NotSent as exc:
            self.failure, self.reason = "not_sent", str(exc)
            raise requests.ConnectionError(str(exc), request=request) from None
        except http.Ambiguous as exc:
            self.failure, self.reason = "ambiguous", str(exc)
            raise requests.ReadTimeout(str(exc), request=request) from None
        response = requests.Response()
        response.status_code = status
        response.headers = CaseInsensitiveDict(answer_headers)
        response._content = data
        response.encoding = get_encoding_from_headers(response.headers)
        response.url = request.url
        response.request = request
        response.reason = ""
        return response

    def close(self):
        pass
