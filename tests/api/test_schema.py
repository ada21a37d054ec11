import pytest
import yaml
from django.core.management import call_command
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db

PATHS = {
    "/api/v1/contacts/": {"get", "post"},
    "/api/v1/contacts/{contact_id}/": {"get", "patch", "delete"},
    "/api/v1/contacts/{contact_id}/events/": {"get"},
    "/api/v1/contacts/by-external-id/{external_id}/": {"get", "put"},
    "/api/v1/events/": {"get", "post"},
    "/api/v1/events/batch/": {"post"},
}


def test_schema_is_valid_openapi_with_every_endpoint(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)  # raises on an invalid OpenAPI 3 document
    for path, methods in PATHS.items():
        assert path in schema["paths"], path
        assert methods <= set(schema["paths"][path]), path
        for method in methods:
            operation = schema["paths"][path][method]
            assert (
                "200" in operation["responses"]
                or "201" in operation["responses"]
                or "204" in (operation["responses"])
            )
            assert "400" in operation["responses"] or method in ("get", "delete")
    create = schema["paths"]["/api/v1/contacts/"]["post"]
    assert "requestBody" in create
    assert schema["components"]["securitySchemes"]["ApiToken"]["scheme"] == "bearer"


def test_schema_generates_without_warnings(capsys):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


def test_docs_page_loads_its_scripts_locally(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    # its start-up script is a file (the CSP allows no inline script), pointing at the schema
    assert '<script src="/api/docs/?script="></script>' in html
    script = client.get("/api/docs/?script=")
    assert (
        script["Content-Type"].startswith("application/javascript")
        and "/api/schema/" in script.content.decode()
    )
