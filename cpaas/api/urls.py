"""/api/v1/ routes. Each app adds its endpoints here."""

from django.urls import include, path

urlpatterns = [
    path("", include("contacts.api.urls")),
    path("", include("consent.api.urls")),
    path("", include("channels_app.api.urls")),
    path("", include("experiments.api.urls")),
    path("", include("journeys.api.urls")),
    path("", include("inbox.api.urls")),
    path("", include("analytics.api.urls")),
]
