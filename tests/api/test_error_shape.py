"""Issue 11 item 19: every answer under /api/ keeps the one documented error body, including the
ones Django gives before or after a view runs: no route (404), a method a route lacks (405), a
body over DATA_UPLOAD_MAX_MEMORY_SIZE (413), too many fields (400), and a crash (500)."""

import pytest
from django.test import Client, override_settings

from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db


def auth(api_token) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {api_token.key}"}


@pytest.mark.parametrize(
    "path",
    ["/api/v1/nothing-here/", "/api/v1/contacts/not-a-number/", "/api/", "/api/v2/contacts/", "/api/v1/"],
)
def test_a_path_with_no_route_is_a_json_404(client, api_token, path):
    response = client.get(path, **auth(api_token))
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert error_of(response)["code"] == "not_found"
    assert path in error_of(response)["message"]


def test_no_route_is_json_without_a_token_too(client):
    response = client.post("/api/v1/nothing-here/", data="{}", content_type="application/json")
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"


def test_a_method_a_route_lacks_is_a_json_405(api):
    response = api.put("/api/v1/events/", {}, format="json")
    assert response.status_code == 405 and error_of(response)["code"] == "method_not_allowed"


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
@pytest.mark.parametrize("path", ["/api/v1/events/batch/", "/api/v1/nothing-here/"])
def test_a_body_over_the_limit_is_a_json_413(client, api_token, path):
    body = '{"events": [' + ",".join(['{"name": "e", "contact": {"id": 1}}'] * 100) + "]}"
    response = client.post(path, data=body, content_type="application/json", **auth(api_token))
    assert response.status_code == 413 and error_of(response)["code"] == "payload_too_large"
    assert "1,000 bytes" in error_of(response)["message"]


@override_settings(DATA_UPLOAD_MAX_NUMBER_FIELDS=10)
def test_too_many_query_fields_is_a_json_400(client, api_token):
    query = "&".join(f"q{i}=x" for i in range(20))
    response = client.get(f"/api/v1/contacts/?{query}", **auth(api_token))
    assert response.status_code == 400 and error_of(response)["code"] == "too_many_fields"


def test_a_crash_is_a_json_500_without_details(api_token, monkeypatch):
    from contacts import selectors

    def boom(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(selectors, "contact_list", boom)
    client = Client(raise_request_exception=False)
    response = client.get("/api/v1/contacts/", **auth(api_token))
    assert response.status_code == 500 and error_of(response)["code"] == "server_error"
    assert "secret" not in response.content.decode()


def test_pages_keep_their_html_errors(admin_client):
    response = admin_client.get("/no-such-page/")
    assert response.status_code == 404 and "text/html" in response["Content-Type"]


@override_settings(DEBUG=True)
def test_debug_pages_do_not_leak_into_the_api(client, api_token):
    response = client.get("/api/v1/nothing-here/", **auth(api_token))
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_a_body_without_a_length_is_bounded_too():
    import io

    from rest_framework.exceptions import APIException

    from cpaas.api.parsers import JSONParser

    with pytest.raises(APIException) as caught:
        JSONParser().parse(io.BytesIO(b'{"a": "' + b"x" * 2000 + b'"}'), "application/json", {})
    assert caught.value.status_code == 413


@pytest.mark.parametrize(
    "path",
    ["/api/v1/contacts/by-external-id/a%00b/", "/api/v1/journeys/?status=a%00b", "/api/v1/contacts/?a%00=1"],
)
def test_a_nul_in_the_path_or_query_is_a_400_on_every_database(client, api_token, path):
    response = client.get(path, **auth(api_token))
    assert response.status_code == 400 and error_of(response)["code"] == "validation_error"
    assert "NUL" in error_of(response)["message"]
